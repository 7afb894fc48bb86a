#pragma once
// A thin RAII layer over SQLite: the coordinator's state and the device farm's lookup table.
// Databases open in WAL mode with a busy timeout; errors throw std::runtime_error naming the file.

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace ern {

class SqliteDatabase {
 public:
  // Creates the parent directory and the file when missing, then runs `schema` (idempotent SQL).
  SqliteDatabase(const std::filesystem::path& file, const std::string& schema);
  ~SqliteDatabase();
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  void exec(const std::string& sql);
  sqlite3* handle() { return db_; }
  const std::string& name() const { return name_; }

 private:
  sqlite3* db_ = nullptr;
  std::string name_;
};

// A prepared statement that finalizes itself. Bind indices start at 1, columns at 0.
class Statement {
 public:
  Statement(SqliteDatabase& db, const char* sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, const std::string& value);
  Statement& bind(int index, int value);
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, double value);
  // True while rows come; false when done.
  bool step();

  std::string text(int column) const;
  int64_t integer(int column) const;
  double real(int column) const;

 private:
  SqliteDatabase& db_;
  sqlite3_stmt* statement_ = nullptr;
};

// BEGIN IMMEDIATE on construction; commit() makes it durable, otherwise it rolls back.
class Transaction {
 public:
  explicit Transaction(SqliteDatabase& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  SqliteDatabase& db_;
  bool done_ = false;
};

}  // namespace ern
