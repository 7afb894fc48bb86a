#include "common/tls/transport_security.h"

#include <fstream>
#include <iterator>
#include <stdexcept>

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include "common/yaml_config.h"

namespace ern::tls {
namespace {

// PEM files are small; anything larger is not one.
constexpr std::streamsize kMaxPemBytes = 1 << 20;

std::string read_pem(const std::string& path, const std::string& field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument(field + ": cannot read " + path);
  std::string text(kMaxPemBytes + 1, '\0');
  in.read(text.data(), kMaxPemBytes + 1);
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > static_cast<size_t>(kMaxPemBytes)) {
    throw std::invalid_argument(field + ": " + path + " is larger than 1 MiB; not a PEM file");
  }
  if (text.find("-----BEGIN ") == std::string::npos) {
    throw std::invalid_argument(field + ": " + path + " holds no PEM block");
  }
  return text;
}

std::string host_of(const std::string& listen) {
  const auto colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? listen : listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

}  // namespace

bool is_loopback_listen(const std::string& listen) {
  if (listen.rfind("unix:", 0) == 0) return true;
  const std::string host = host_of(listen);
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::shared_ptr<grpc::ServerCredentials> server_credentials(const ServerTls& tls,
                                                            const std::string& listen,
                                                            bool insecure_plaintext,
                                                            const std::string& where) {
  if (!tls.enabled()) {
    if (!tls.key_file.empty() || !tls.client_ca_file.empty() || tls.require_client_cert) {
      throw std::invalid_argument(where +
                                  "cert: a key or client CA is configured but no certificate");
    }
    if (!is_loopback_listen(listen)) {
      if (!insecure_plaintext) {
        throw std::runtime_error("refusing to listen in plaintext on " + listen + ": configure " +
                                 where + "cert and " + where +
                                 "key, listen on a loopback address, or pass --insecure-plaintext");
      }
      spdlog::warn(
          "INSECURE: listening in plaintext on {} (--insecure-plaintext): tokens and "
          "images cross the network unencrypted",
          listen);
    }
    return grpc::InsecureServerCredentials();
  }
  if (tls.key_file.empty())
    throw std::invalid_argument(where + "key: needed with " + where + "cert");
  if (tls.require_client_cert && tls.client_ca_file.empty()) {
    throw std::invalid_argument(where + "client_ca: needed with " + where + "require_client_cert");
  }
  grpc::SslServerCredentialsOptions options(
      tls.client_ca_file.empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : (tls.require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                     : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY));
  if (!tls.client_ca_file.empty()) {
    options.pem_root_certs = read_pem(tls.client_ca_file, where + "client_ca");
  }
  options.pem_key_cert_pairs.push_back(
      {read_pem(tls.key_file, where + "key"), read_pem(tls.cert_file, where + "cert")});
  spdlog::info("TLS on {} ({})", listen,
               tls.client_ca_file.empty() ? "no client certificates"
               : tls.require_client_cert  ? "client certificates required"
                                          : "client certificates verified when presented");
  return grpc::SslServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> channel_credentials(const ClientTls& tls,
                                                              const std::string& where) {
  if (!tls.enabled()) {
    if (!tls.cert_file.empty() || !tls.key_file.empty()) {
      throw std::invalid_argument(where + "ca: a client certificate needs TLS, and TLS a CA");
    }
    return grpc::InsecureChannelCredentials();
  }
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    throw std::invalid_argument(where + "cert and " + where + "key: give both or neither");
  }
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = read_pem(tls.ca_file, where + "ca");
  if (!tls.cert_file.empty()) {
    options.pem_cert_chain = read_pem(tls.cert_file, where + "cert");
    options.pem_private_key = read_pem(tls.key_file, where + "key");
  }
  return grpc::SslCredentials(options);
}

ServerTls read_server_tls(const YAML::Node& node, const std::string& where) {
  ServerTls tls;
  if (!node) return tls;
  reject_unknown_fields(node, where, {"cert", "key", "client_ca", "require_client_cert"});
  read_yaml_field(node, where, "cert", tls.cert_file);
  read_yaml_field(node, where, "key", tls.key_file);
  read_yaml_field(node, where, "client_ca", tls.client_ca_file);
  read_yaml_field(node, where, "require_client_cert", tls.require_client_cert);
  return tls;
}

ClientTls read_client_tls(const YAML::Node& node, const std::string& where) {
  ClientTls tls;
  if (!node) return tls;
  reject_unknown_fields(node, where, {"ca", "cert", "key"});
  read_yaml_field(node, where, "ca", tls.ca_file);
  read_yaml_field(node, where, "cert", tls.cert_file);
  read_yaml_field(node, where, "key", tls.key_file);
  return tls;
}

}  // namespace ern::tls
