// ernctl tokens create/list/revoke and ernctl audit: who may call the coordinator, and what they
// did.

#include <cstdio>
#include <ctime>
#include <sstream>

#include "client/commands.h"
#include "client/server_connection.h"
#include "ern/v1/access.grpc.pb.h"

namespace ern::cli {
namespace {

// "30d", "12h", "45m", "90s" → seconds; throws UsageError naming `flag`.
int64_t parse_duration(const std::string& text, const std::string& flag) {
  const std::string usage = "--" + flag + ": '" + text + "' is not a duration like 30d, 12h, 45m";
  if (text.size() < 2) throw UsageError(usage);
  int64_t unit = 0;
  switch (text.back()) {
    case 'd':
      unit = 86400;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'm':
      unit = 60;
      break;
    case 's':
      unit = 1;
      break;
    default:
      throw UsageError(usage);
  }
  const std::string number = text.substr(0, text.size() - 1);
  if (number.empty() || number.size() > 6 ||
      number.find_first_not_of("0123456789") != std::string::npos) {
    throw UsageError(usage);
  }
  return std::stoll(number) * unit;
}

std::string time_text(int64_t unix_ms) {
  if (unix_ms == 0) return "-";
  const std::time_t seconds = unix_ms / 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

nlohmann::json token_json(const v1::Token& token) {
  return {{"id", token.id()},
          {"name", token.name()},
          {"team", token.team()},
          {"role", token.role()},
          {"models", std::vector<std::string>(token.models().begin(), token.models().end())},
          {"created_unix_ms", token.created_unix_ms()},
          {"expires_unix_ms", token.expires_unix_ms()},
          {"revoked_unix_ms", token.revoked_unix_ms()}};
}

std::unique_ptr<v1::AccessService::Stub> access_stub(const ServerConnection& server) {
  return v1::AccessService::NewStub(server.channel);
}

}  // namespace

int tokens_create(const Args& raw) {
  Arguments args(raw, with_connection_flags({"team", "role", "name", "models", "expires"}),
                 {"json"});
  args.expect_positionals(0,
                          "ernctl tokens create --team T --role R [--name N] [--models a,b] "
                          "[--expires 30d]");
  v1::CreateTokenRequest request;
  request.set_team(args.value_or("team", ""));
  request.set_role(args.required("role"));
  request.set_name(args.value_or("name", ""));
  std::istringstream models(args.value_or("models", ""));
  for (std::string model; std::getline(models, model, ',');) request.add_models(model);
  if (args.has("expires"))
    request.set_ttl_seconds(parse_duration(args.required("expires"), "expires"));
  const auto server = connect_to_server(args);
  v1::CreateTokenResponse response;
  check_rpc(access_stub(server)->CreateToken(server.context().get(), request, &response),
            "CreateToken", server);
  if (args.has("json")) {
    auto json = token_json(response.token());
    json["secret"] = response.secret();
    std::printf("%s\n", json.dump(2).c_str());
    return 0;
  }
  const auto& token = response.token();
  std::fprintf(stderr, "token %s: role %s, team '%s', expires %s; shown once, store it now:\n",
               token.id().c_str(), token.role().c_str(), token.team().c_str(),
               time_text(token.expires_unix_ms()).c_str());
  std::printf("%s\n", response.secret().c_str());
  return 0;
}

int tokens_list(const Args& raw) {
  Arguments args(raw, with_connection_flags({}), {"json"});
  args.expect_positionals(0, "ernctl tokens list [--json]");
  const auto server = connect_to_server(args);
  v1::ListTokensResponse response;
  check_rpc(
      access_stub(server)->ListTokens(server.context().get(), v1::ListTokensRequest(), &response),
      "ListTokens", server);
  if (args.has("json")) {
    nlohmann::json tokens = nlohmann::json::array();
    for (const auto& token : response.tokens()) tokens.push_back(token_json(token));
    std::printf("%s\n", tokens.dump(2).c_str());
    return 0;
  }
  std::printf("%-18s %-20s %-16s %-9s %-21s %s\n", "ID", "NAME", "TEAM", "ROLE", "EXPIRES",
              "STATE");
  for (const auto& token : response.tokens()) {
    const bool expired =
        token.expires_unix_ms() != 0 && token.expires_unix_ms() < std::time(nullptr) * 1000LL;
    std::printf("%-18s %-20s %-16s %-9s %-21s %s\n", token.id().c_str(), token.name().c_str(),
                token.team().c_str(), token.role().c_str(),
                time_text(token.expires_unix_ms()).c_str(),
                token.revoked_unix_ms() != 0 ? "revoked"
                : expired                    ? "expired"
                                             : "active");
  }
  return 0;
}

int tokens_revoke(const Args& raw) {
  Arguments args(raw, with_connection_flags({}));
  args.expect_positionals(1, "ernctl tokens revoke TOKEN_ID");
  const auto server = connect_to_server(args);
  v1::RevokeTokenRequest request;
  request.set_id(args.positional(0, "TOKEN_ID"));
  v1::Token token;
  check_rpc(access_stub(server)->RevokeToken(server.context().get(), request, &token),
            "RevokeToken", server);
  std::printf("%s\n", token.id().c_str());
  return 0;
}

int audit(const Args& raw) {
  Arguments args(raw, with_connection_flags({"since", "limit"}), {"json"});
  args.expect_positionals(0, "ernctl audit [--since 1h] [--limit N] [--json]");
  v1::ListAuditEventsRequest request;
  if (args.has("since")) {
    request.set_since_unix_ms(
        (std::time(nullptr) - parse_duration(args.required("since"), "since")) * 1000LL);
  }
  request.set_limit(static_cast<int32_t>(args.integer_or("limit", 100, 1, 10000)));
  const auto server = connect_to_server(args);
  v1::ListAuditEventsResponse response;
  check_rpc(access_stub(server)->ListAuditEvents(server.context().get(), request, &response),
            "ListAuditEvents", server);
  if (args.has("json")) {
    nlohmann::json events = nlohmann::json::array();
    for (const auto& event : response.events()) {
      events.push_back({{"at_unix_ms", event.at_unix_ms()},
                        {"token_id", event.token_id()},
                        {"token_name", event.token_name()},
                        {"role", event.role()},
                        {"team", event.team()},
                        {"method", event.method()},
                        {"target", event.target()},
                        {"code", event.code()},
                        {"message", event.message()}});
    }
    std::printf("%s\n", events.dump(2).c_str());
    return 0;
  }
  std::printf("%-21s %-18s %-9s %-12s %-18s %-20s %s\n", "TIME", "TOKEN", "ROLE", "TEAM", "METHOD",
              "RESULT", "TARGET");
  for (const auto& event : response.events()) {
    std::printf("%-21s %-18s %-9s %-12s %-18s %-20s %s\n", time_text(event.at_unix_ms()).c_str(),
                event.token_id().c_str(), event.role().c_str(), event.team().c_str(),
                event.method().c_str(), event.code().c_str(), event.target().c_str());
  }
  return 0;
}

}  // namespace ern::cli
