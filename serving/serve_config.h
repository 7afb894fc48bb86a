#pragma once
// ern-serve's configuration (configs/serve.yaml); every field can also be given as a flag.

#include <filesystem>
#include <string>

#include "common/tls/transport_security.h"
#include "serving/app_rate_limiter.h"
#include "serving/serving_options.h"

namespace ern::serving {

struct ServeConfig {
  std::string listen = "127.0.0.1:50053";
  std::string metrics_listen = "127.0.0.1:9094";
  std::filesystem::path data_dir = "data/serve";  // the model cache
  std::string registry;                           // the coordinator, HOST:PORT or dns:///...
  std::string token_file;                         // a token of role serve
  tls::ServerTls tls;
  tls::ClientTls registry_tls;
  int token_cache_seconds = 30;    // callers' tokens are asked about again after this
  int token_stale_seconds = 3600;  // ...or accepted as last known while the registry is away
  ServingOptions serving;
  AppTokenQuota app_tokens;  // `quotas.app_tokens` of the coordinator's config
};

// Throws std::invalid_argument "<file>: <field>: ..." naming what is wrong.
ServeConfig load_serve_config(const std::filesystem::path& yaml_file);

}  // namespace ern::serving
