#pragma once
// Transport security of every ERN gRPC server and client: TLS from PEM files named in a config or
// on the command line, optionally mutual (client certificates checked against a CA). A server
// without a certificate listens in plaintext only on a loopback address, unless the operator says
// --insecure-plaintext (logged loudly); a client without a CA dials in plaintext.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

namespace YAML {
class Node;
}

namespace ern::tls {

struct ServerTls {
  std::string cert_file;       // PEM certificate chain; empty: plaintext
  std::string key_file;        // PEM private key of that certificate
  std::string client_ca_file;  // PEM CA that client certificates must chain to; empty: none asked
  bool require_client_cert = false;  // refuse clients without a certificate from client_ca_file
  bool enabled() const { return !cert_file.empty(); }
};

struct ClientTls {
  std::string ca_file;    // PEM roots the server's certificate must chain to; empty: plaintext
  std::string cert_file;  // PEM client certificate (mutual TLS); optional
  std::string key_file;   // its private key
  bool enabled() const { return !ca_file.empty(); }
};

// Throws std::invalid_argument naming `where` + field for a half-configured TLS (a certificate
// without a key, a client certificate requirement without a CA) or an unreadable PEM file, and
// std::runtime_error when plaintext is asked for on a non-loopback `listen` address without
// `insecure_plaintext`.
std::shared_ptr<grpc::ServerCredentials> server_credentials(const ServerTls& tls,
                                                            const std::string& listen,
                                                            bool insecure_plaintext,
                                                            const std::string& where = "tls.");
std::shared_ptr<grpc::ChannelCredentials> channel_credentials(const ClientTls& tls,
                                                              const std::string& where = "--");

// True for 127.0.0.0/8, ::1, localhost and unix: addresses ("HOST:PORT" or "unix:PATH").
bool is_loopback_listen(const std::string& listen);

// The `tls:` section of a server config (cert, key, client_ca, require_client_cert) and the
// client section of one that dials another server (ca, cert, key); absent keys keep defaults.
ServerTls read_server_tls(const YAML::Node& node, const std::string& where);
ClientTls read_client_tls(const YAML::Node& node, const std::string& where);

}  // namespace ern::tls
