#pragma once
// Errors that carry their gRPC status code, and the one place service methods turn exceptions into
// statuses: std::invalid_argument is INVALID_ARGUMENT, RpcError keeps its code, anything else is
// INTERNAL (and logged).

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <stdexcept>
#include <string>

namespace ern {

class RpcError : public std::runtime_error {
 public:
  RpcError(grpc::StatusCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  grpc::StatusCode code() const { return code_; }

 private:
  grpc::StatusCode code_;
};

template <typename Body>
grpc::Status guarded_rpc(const char* method, Body&& body) {
  try {
    body();
    return grpc::Status::OK;
  } catch (const RpcError& error) {
    return {error.code(), error.what()};
  } catch (const std::invalid_argument& error) {
    return {grpc::StatusCode::INVALID_ARGUMENT, error.what()};
  } catch (const std::exception& error) {
    spdlog::error("{}: {}", method, error.what());
    return {grpc::StatusCode::INTERNAL, std::string(method) + ": " + error.what()};
  }
}

}  // namespace ern
