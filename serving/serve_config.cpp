#include "serving/serve_config.h"

#include "common/yaml_config.h"

namespace ern::serving {

ServeConfig load_serve_config(const std::filesystem::path& yaml_file) {
  const auto root = load_yaml_file(yaml_file);
  ServeConfig config;
  try {
    reject_unknown_fields(
        root, "",
        {"listen", "metrics_listen", "data", "registry", "token_file", "tls", "registry_tls",
         "token_cache_seconds", "token_stale_seconds", "serving", "app_tokens"});
    read_yaml_field(root, "", "listen", config.listen);
    read_yaml_field(root, "", "metrics_listen", config.metrics_listen);
    std::string data;
    read_yaml_field(root, "", "data", data);
    if (!data.empty()) config.data_dir = data;
    read_yaml_field(root, "", "registry", config.registry);
    read_yaml_field(root, "", "token_file", config.token_file);
    config.tls = tls::read_server_tls(root["tls"], "tls.");
    config.registry_tls = tls::read_client_tls(root["registry_tls"], "registry_tls.");
    read_yaml_field(root, "", "token_cache_seconds", config.token_cache_seconds);
    read_yaml_field(root, "", "token_stale_seconds", config.token_stale_seconds);
    if (config.token_cache_seconds < 0 || config.token_cache_seconds > 3600) {
      throw std::invalid_argument("token_cache_seconds: must be in 0..3600");
    }
    if (config.token_stale_seconds < 0 || config.token_stale_seconds > 7 * 86400) {
      throw std::invalid_argument("token_stale_seconds: must be in 0..604800");
    }
    config.serving = read_serving_options(root["serving"]);
    config.app_tokens = read_app_token_quota(root["app_tokens"], "app_tokens.");
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(yaml_file.string() + ": " + error.what());
  }
  return config;
}

}  // namespace ern::serving
