// The model registry part of the JobStore: registered models, their quality scores and lineage,
// pending promotions, and the default model.

#include <algorithm>

#include <google/protobuf/util/json_util.h>

#include "common/rpc_error.h"
#include "server/job_rows.h"
#include "server/job_store.h"

namespace ern::server {
namespace {

constexpr char kModelColumns[] =
    "id, name, source, team, job_id, spec_yaml, architecture_json, report_json, params, sha256, "
    "created_ms, quality_json, lineage_json, promotion";

std::string to_json(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::MessageToJsonString(message, &json);
  return json;
}

// Leaves the field unset (has_...() false) when nothing was stored.
template <typename Message>
void from_json(const std::string& json, Message* (v1::Model::*mutable_field)(), v1::Model& model) {
  if (!json.empty()) google::protobuf::util::JsonStringToMessage(json, (model.*mutable_field)());
}

v1::Model model_from_row(const Statement& row) {
  v1::Model model;
  model.set_id(row.text(0));
  model.set_name(row.text(1));
  model.set_source(row.text(2));
  model.set_team(row.text(3));
  model.set_job_id(row.text(4));
  model.set_spec_yaml(row.text(5));
  model.set_architecture_json(row.text(6));
  model.set_report_json(row.text(7));
  model.set_params(row.integer(8));
  model.set_sha256(row.text(9));
  model.set_created_unix_ms(row.integer(10));
  from_json(row.text(11), &v1::Model::mutable_quality, model);
  from_json(row.text(12), &v1::Model::mutable_lineage, model);
  model.set_promotion(row.text(13));
  return model;
}

}  // namespace

v1::Model JobStore::insert_model(const NewModel& model) {
  Statement taken(db_, "SELECT COUNT(*) FROM models WHERE name=?1");
  taken.bind(1, model.name);
  taken.step();
  if (taken.integer(0) > 0) {
    throw RpcError(grpc::StatusCode::ALREADY_EXISTS,
                   "name: a model named " + model.name + " is registered already");
  }
  const std::string id = next_id(db_, "models", "model");
  Statement insert(db_,
                   "INSERT INTO models (id, name, source, team, job_id, spec_yaml, "
                   "architecture_json, report_json, params, sha256, created_ms, lineage_json, "
                   "promotion) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
  insert.bind(1, id)
      .bind(2, model.name)
      .bind(3, model.source)
      .bind(4, model.team)
      .bind(5, model.job_id)
      .bind(6, model.spec_yaml)
      .bind(7, model.architecture_json)
      .bind(8, model.report_json)
      .bind(9, model.params)
      .bind(10, model.sha256)
      .bind(11, now_unix_ms())
      .bind(12, model.lineage.ByteSizeLong() > 0 ? to_json(model.lineage) : std::string())
      .bind(13, std::string(model.promote ? "pending" : ""));
  insert.step();
  // The first model registered becomes the default, so Denoise works without a set-default.
  Statement first(db_, "INSERT OR IGNORE INTO settings (key, value) VALUES ('default_model', ?1)");
  first.bind(1, id);
  first.step();
  return load_model(id);
}

v1::Model JobStore::add_model(const NewModel& model) {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  auto added = insert_model(model);
  transaction.commit();
  return added;
}

v1::Model JobStore::load_model(const std::string& id_or_name) {
  Statement query(
      db_,
      (std::string("SELECT ") + kModelColumns + " FROM models WHERE id=?1 OR name=?1").c_str());
  query.bind(1, id_or_name);
  if (!query.step()) throw RpcError(grpc::StatusCode::NOT_FOUND, "id: no model " + id_or_name);
  auto model = model_from_row(query);
  Statement default_id(db_, "SELECT value FROM settings WHERE key='default_model'");
  model.set_is_default(default_id.step() && default_id.text(0) == model.id());
  return model;
}

std::vector<v1::Model> JobStore::load_models(const char* id_query) {
  Statement query(db_, id_query);
  std::vector<std::string> ids;
  while (query.step()) ids.push_back(query.text(0));
  std::vector<v1::Model> models;
  for (const auto& id : ids) models.push_back(load_model(id));
  return models;
}

ListedModels JobStore::list_models(const std::function<bool(const v1::Model&)>& visible,
                                   int page_size, const std::string& page_token) {
  const int64_t before = rows_before_page_token(page_token, "ListModels");
  std::lock_guard lock(mutex_);
  Statement query(db_, "SELECT id, seq FROM models WHERE seq < ?1 ORDER BY seq DESC");
  query.bind(1, before);
  ListedModels listed;
  int64_t last_seq = 0;
  while (query.step()) {
    auto model = load_model(query.text(0));
    if (!visible(model)) continue;
    if (static_cast<int>(listed.models.size()) == page_size) {
      listed.next_page_token = std::to_string(last_seq);
      break;
    }
    model.clear_report_json();
    listed.models.push_back(std::move(model));
    last_seq = query.integer(1);
  }
  return listed;
}

bool JobStore::model_stored(const std::string& sha256) {
  std::lock_guard lock(mutex_);
  Statement query(db_, "SELECT 1 FROM models WHERE sha256=?1 LIMIT 1");
  query.bind(1, sha256);
  return query.step();
}

std::vector<v1::Model> JobStore::models() {
  std::lock_guard lock(mutex_);
  return load_models("SELECT id FROM models ORDER BY seq DESC");
}

v1::Model JobStore::model(const std::string& id_or_name) {
  std::lock_guard lock(mutex_);
  return load_model(id_or_name);
}

v1::Model JobStore::set_default_model(const std::string& id_or_name, const DefaultModelGate& gate) {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  const auto model = load_model(id_or_name);
  if (gate) {
    std::optional<v1::Model> current;
    Statement query(db_, "SELECT value FROM settings WHERE key='default_model'");
    if (query.step() && query.text(0) != model.id()) current = load_model(query.text(0));
    gate(model, current);
  }
  Statement update(db_,
                   "INSERT OR REPLACE INTO settings (key, value) VALUES ('default_model', ?1)");
  update.bind(1, model.id());
  update.step();
  auto updated = load_model(model.id());
  transaction.commit();
  return updated;
}

std::optional<v1::Model> JobStore::default_model() {
  std::lock_guard lock(mutex_);
  Statement query(db_, "SELECT value FROM settings WHERE key='default_model'");
  if (!query.step()) return std::nullopt;
  return load_model(query.text(0));
}

std::string JobStore::registry_fingerprint() {
  std::lock_guard lock(mutex_);
  Statement models(db_, "SELECT count(*), coalesce(max(seq), 0) FROM models");
  models.step();
  Statement default_id(db_, "SELECT value FROM settings WHERE key='default_model'");
  return std::to_string(models.integer(0)) + "/" + std::to_string(models.integer(1)) + "/" +
         (default_id.step() ? default_id.text(0) : std::string());
}

std::vector<v1::Model> JobStore::serving_models(int limit) {
  std::lock_guard lock(mutex_);
  Statement query(db_, "SELECT id FROM models ORDER BY seq DESC LIMIT ?1");
  query.bind(1, int64_t{limit});
  std::vector<std::string> ids;
  while (query.step()) ids.push_back(query.text(0));
  Statement default_id(db_, "SELECT value FROM settings WHERE key='default_model'");
  if (default_id.step() && std::find(ids.begin(), ids.end(), default_id.text(0)) == ids.end()) {
    ids.push_back(default_id.text(0));
  }
  std::vector<v1::Model> models;
  for (const auto& id : ids) {
    const auto full = load_model(id);
    v1::Model& model = models.emplace_back();
    model.set_id(full.id());
    model.set_name(full.name());
    model.set_source(full.source());
    model.set_team(full.team());
    model.set_sha256(full.sha256());
    model.set_params(full.params());
    model.set_is_default(full.is_default());
    model.set_created_unix_ms(full.created_unix_ms());
  }
  return models;
}

std::vector<v1::Model> JobStore::models_to_score(const std::string& image_set_sha256) {
  std::lock_guard lock(mutex_);
  std::vector<v1::Model> unscored;
  for (auto& model : load_models("SELECT id FROM models ORDER BY seq")) {
    if (model.quality().image_set_sha256() != image_set_sha256) {
      unscored.push_back(std::move(model));
    }
  }
  return unscored;
}

void JobStore::set_quality(const std::string& model_id, const v1::QualityScore& score) {
  std::lock_guard lock(mutex_);
  Statement update(db_, "UPDATE models SET quality_json=?2 WHERE id=?1");
  update.bind(1, model_id).bind(2, to_json(score));
  update.step();
}

std::vector<v1::Model> JobStore::pending_promotions() {
  std::lock_guard lock(mutex_);
  return load_models("SELECT id FROM models WHERE promotion='pending' ORDER BY seq");
}

void JobStore::finish_promotion(const std::string& model_id, bool promoted,
                                const std::string& reason) {
  std::lock_guard lock(mutex_);
  Statement update(db_, "UPDATE models SET promotion=?2 WHERE id=?1");
  update.bind(1, model_id).bind(2, promoted ? std::string("promoted") : "refused: " + reason);
  update.step();
}

}  // namespace ern::server
