// ernctl models list/get/set-default/import: the coordinator's model registry.

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "client/commands.h"
#include "client/model_lookup.h"
#include "client/report_table.h"
#include "client/server_connection.h"
#include "common/dir_archive.h"
#include "ern/v1/models.grpc.pb.h"

namespace ern::cli {
namespace {

namespace fs = std::filesystem;

// "31.52 / 0.8712", or "pending" while the coordinator scores it.
std::string score_text(const v1::Model& model) {
  if (!model.has_quality()) return "pending";
  char text[48];
  std::snprintf(text, sizeof(text), "%.2f / %.4f", model.quality().psnr(), model.quality().ssim());
  return text;
}

}  // namespace

int models_list(const Args& raw) {
  Arguments args(raw, with_connection_flags({}), {"json"});
  args.expect_positionals(0, "ernctl models list [--json]");
  const auto server = connect_to_server(args);
  const auto stub = v1::ModelService::NewStub(server.channel);
  std::vector<v1::Model> listed;
  v1::ListModelsRequest request;
  request.set_page_size(1000);
  do {
    v1::ListModelsResponse page;
    check_rpc(stub->ListModels(server.context().get(), request, &page), "ListModels", server);
    listed.insert(listed.end(), page.models().begin(), page.models().end());
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  if (args.has("json")) {
    nlohmann::json models = nlohmann::json::array();
    for (const auto& model : listed) models.push_back(model_json(model));
    std::printf("%s\n", models.dump(2).c_str());
    return 0;
  }
  std::printf("%-14s %-32s %-8s %-12s %10s %-22s %s\n", "ID", "NAME", "SOURCE", "JOB", "PARAMS",
              "SCORE (PSNR/SSIM)", "DEFAULT");
  for (const auto& model : listed) {
    std::printf("%-14s %-32s %-8s %-12s %10lld %-22s %s\n", model.id().c_str(),
                model.name().c_str(), model.source().c_str(),
                model.job_id().empty() ? "-" : model.job_id().c_str(),
                static_cast<long long>(model.params()), score_text(model).c_str(),
                model.is_default() ? "*" : "");
  }
  return 0;
}

int models_get(const Args& raw) {
  Arguments args(raw, with_connection_flags({}), {"json"});
  args.expect_positionals(1, "ernctl models get MODEL [--json]");
  const auto model = get_model(connect_to_server(args), args.positional(0, "MODEL"));
  if (args.has("json")) {
    std::printf("%s\n", model_json(model).dump(2).c_str());
    return 0;
  }
  std::printf("%s %s (%s%s), %lld parameters%s\n", model.id().c_str(), model.name().c_str(),
              model.source().c_str(),
              model.job_id().empty() ? "" : (" by " + model.job_id()).c_str(),
              static_cast<long long>(model.params()), model.is_default() ? ", default" : "");
  if (model.has_quality()) {
    std::printf("quality gate score: %s on %d images at sigma %g (image set %.12s)\n",
                score_text(model).c_str(), model.quality().images(), model.quality().sigma(),
                model.quality().image_set_sha256().c_str());
  }
  if (!model.promotion().empty()) std::printf("promotion: %s\n", model.promotion().c_str());
  if (model.has_lineage()) {
    const auto& lineage = model.lineage();
    std::printf("lineage: data %s, latency table %s (%d rows, sha256 %s)\n",
                lineage.data_sha256().c_str(), lineage.latency_device().c_str(),
                lineage.latency_table_rows(), lineage.latency_table_sha256().c_str());
  }
  if (!model.report_json().empty()) print_search_report(nlohmann::json::parse(model.report_json()));
  return 0;
}

int models_set_default(const Args& raw) {
  Arguments args(raw, with_connection_flags({}), {"force"});
  args.expect_positionals(1, "ernctl models set-default MODEL [--force]");
  const auto server = connect_to_server(args);
  v1::SetDefaultModelRequest request;
  request.set_id(args.positional(0, "MODEL"));
  request.set_force(args.has("force"));
  v1::Model model;
  check_rpc(v1::ModelService::NewStub(server.channel)
                ->SetDefaultModel(server.context().get(), request, &model),
            "SetDefaultModel", server);
  std::printf("default model: %s (%s)\n", model.id().c_str(), model.name().c_str());
  return 0;
}

int models_import(const Args& raw) {
  Arguments args(raw, with_connection_flags({"name", "team"}), {"json"});
  args.expect_positionals(1, "ernctl models import DIR [--name NAME] [--team T] [--json]");
  const fs::path directory = args.positional(0, "DIR");
  if (!fs::exists(directory / "model.json")) {
    throw UsageError(directory.string() + ": not a model directory (no model.json)");
  }
  const auto server = connect_to_server(args);
  const fs::path archive =
      fs::temp_directory_path() / ("ernctl-import-" + std::to_string(getpid()) + ".ernar");
  pack_directory(directory, archive);
  v1::Model model;
  grpc::Status status;
  {
    auto context = server.context(600);
    auto writer = v1::ModelService::NewStub(server.channel)->ImportModel(context.get(), &model);
    v1::ImportModelRequest message;
    auto normal = fs::absolute(directory).lexically_normal();
    if (!normal.has_filename()) normal = normal.parent_path();  // "models/tiny/" names "tiny"
    message.mutable_header()->set_name(args.value_or("name", normal.filename().string()));
    message.mutable_header()->set_team(args.value_or("team", ""));
    bool open = writer->Write(message);
    std::ifstream in(archive, std::ios::binary);
    std::string buffer(1 << 20, '\0');
    while (open && (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) ||
                    in.gcount() > 0)) {
      message.set_data(buffer.data(), static_cast<size_t>(in.gcount()));
      open = writer->Write(message);
    }
    writer->WritesDone();
    status = writer->Finish();
  }
  fs::remove(archive);
  check_rpc(status, "ImportModel", server);
  if (args.has("json")) {
    std::printf("%s\n", model_json(model).dump(2).c_str());
    return 0;
  }
  std::fprintf(stderr, "imported %s as %s (%lld parameters)\n", model.name().c_str(),
               model.id().c_str(), static_cast<long long>(model.params()));
  std::printf("%s\n", model.id().c_str());  // last line: the id, for scripts
  return 0;
}

}  // namespace ern::cli
