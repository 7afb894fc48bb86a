// ernctl: the ERN command-line client.

#include <cstdio>
#include <exception>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <c10/util/Exception.h>

#include "client/arguments.h"
#include "client/commands.h"
#include "client/server_connection.h"
#include "common/heap_tuning.h"
#include "common/logging.h"
#include "common/program_info.h"

namespace {

using Command = std::function<int(const ern::cli::Args&)>;

const char* kUsage =
    R"(usage: ernctl [--server HOST:PORT] [--token T] [--ca FILE] [--json] COMMAND [ARGS]

Models (offline):
  model init --width W --enc 2,2,4,8 --middle 12 --dec 2,2,2,2 -o DIR   random initialization
  model import-nafnet CHECKPOINT --width 32 --enc 2,2,4,8 --middle 12 --dec 2,2,2,2 -o DIR
  model info DIR [--json]                                 params, G MACs at 256x256, architecture
  model export DIR -o DIR2 [--fp16] [--precision bf16|int8 [--images DIR]
                [--calibration-images DIR] [--min-speedup 1.5]]
                                                          a copy, weights stored as fp16 or fp32;
                                                          bf16/int8 serving if it costs <= 0.05
                                                          dB on holdout and runs >= 1.5x as fast
                                                          here (int8 calibrated on val)
  model derive DIR --genotype naf,skip,... -o DIR2        a child network with DIR's weights
  model profile DIR --devicefarm HOST:PORT [--device cpu-1t] [--size 256x256] [--json]
                                                          latency and peak memory on a device
Training and evaluation (offline):
  train --model DIR --data data/images --iters N --patch P --batch B -o DIR2
  eval --local DIR --images DIR [--sigma 15,25,50] [--seed 0] [--device cpu|cuda]
       [--nlm-strength configs/nlm.yaml] [--no-nlm] [--json]
  tune-nlm --images data/images/val -o configs/nlm.yaml   NLM strength per sigma, best val PSNR
Images:
  denoise INPUT -o OUTPUT [--model M] [--format png|jpeg|webp|tiff] [--server HOST:PORT]
  denoise --local DIR INPUT -o OUTPUT                     offline, with a model directory
  noise INPUT --sigma 25 [--seed 0] -o OUTPUT
  compare REFERENCE TEST [--json]                         PSNR and SSIM
Search (in this process, against a device farm):
  search run-local SPEC.yaml --devicefarm HOST:PORT -o DIR [--farm-retry-seconds 600]
                   [--world-size N --rank R --rendezvous HOST:PORT]    one member of a gang
Search jobs on the coordinator (--server HOST:PORT, default localhost:50051; --token T):
  search submit SPEC.yaml [--team T] [--priority 0..100] [--max-attempts N] [--sweep NAME]
                [--watch] [--json]
  search list [--state QUEUED|RUNNING|SUCCEEDED|FAILED|CANCELLED] [--team T] [--sweep NAME]
              [--limit N] [--json]
  search get JOB [--json]
  search watch JOB                          stage, step/total, ETA, loss, E[lat], entropy
  search cancel JOB
  search report JOB|DIR -o report.html      curves, genotype and baseline vs ERN-Net as one HTML
                                            page (a job's registered report, or run-local's DIR)
  search sweep SPEC.yaml --lambda-latency 0,0.25,0.5,1,2 [--name SWEEP] [--team T]
                                            one job per latency weight, as a sweep group
  search front SWEEP [--json] [-o front.html]   measured latency vs PSNR at sigma 25 of its
                                            finished jobs, Pareto-optimal ones marked (*)
Model registry on the coordinator (--server HOST:PORT):
  models list [--json]
  models get MODEL [--json]                 report (baseline vs ERN-Net) and lineage
  models set-default MODEL [--force]        the model Denoise uses when none is named (must
                                            pass the quality gate unless forced)
  models import DIR [--name NAME] [--team T]
Access on the coordinator (admin; audit also operator):
  tokens create --team T --role admin|operator|member|viewer|app|worker [--name N]
                [--models a,b (app)] [--expires 30d]      prints the new token as its last line
  tokens list [--json]                      ids, teams, roles, expiry; never secrets
  tokens revoke TOKEN_ID                    takes effect at once
  audit [--since 1h] [--limit N] [--json]   every mutating call: who, role, team, what, result
Global flags go before or after the command: --server (else $ERN_SERVER, else localhost:50051),
--token (else $ERN_TOKEN; a fresh coordinator writes an admin token to DATA/admin.token), --ca
(else $ERN_CA), --json. `ernctl COMMAND --help` shows one command; --version the build.
Commands that create something print its id alone as the last line (or the object with --json).
Exit codes: 0 ok, 1 failure, 2 usage, 3 not found, 4 permission (unauthenticated or denied).)";

// Global flags that take a value; --json is the global switch.
const std::set<std::string> kGlobalValueFlags = {"--server", "--token", "--ca"};

// The global flags given before the command, moved after it, where every command reads them.
ern::cli::Args with_global_flags_last(ern::cli::Args args) {
  ern::cli::Args global;
  size_t at = 0;
  while (at < args.size()) {
    const std::string& arg = args[at];
    const std::string name = arg.substr(0, arg.find('='));
    if (kGlobalValueFlags.count(name) && arg.find('=') == std::string::npos &&
        at + 1 < args.size()) {
      global.insert(global.end(), {arg, args[at + 1]});
      at += 2;
    } else if (kGlobalValueFlags.count(name) || arg == "--json") {
      global.push_back(arg);
      at += 1;
    } else {
      break;
    }
  }
  ern::cli::Args reordered(args.begin() + static_cast<std::ptrdiff_t>(at), args.end());
  reordered.insert(reordered.end(), global.begin(), global.end());
  return reordered;
}

// The usage lines of one command (its line in kUsage and the indented lines that continue it).
std::string command_usage(const std::string& command) {
  std::istringstream lines(kUsage);
  std::string line, usage;
  bool inside = false;
  while (std::getline(lines, line)) {
    const bool starts_command = line.rfind("  " + command + " ", 0) == 0 || line == "  " + command;
    const bool continues = inside && line.rfind("   ", 0) == 0;
    inside = starts_command || continues;
    // Printed after "usage: ", so continuation lines move right by as much as the first.
    if (inside)
      usage += (starts_command ? "ernctl " + line.substr(2) : std::string(12, ' ') + line) + "\n";
  }
  return usage;
}

int exit_code_of(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::NOT_FOUND:
      return 3;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return 4;
    default:
      return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  ern::keep_freed_memory_in_heap();
  const std::map<std::string, Command> commands = {
      {"model init", ern::cli::model_init},
      {"model import-nafnet", ern::cli::model_import_nafnet},
      {"model info", ern::cli::model_info},
      {"model export", ern::cli::model_export},
      {"model derive", ern::cli::model_derive},
      {"model profile", ern::cli::model_profile},
      {"train", ern::cli::train},
      {"eval", ern::cli::evaluate},
      {"tune-nlm", ern::cli::tune_nlm},
      {"denoise", ern::cli::denoise},
      {"noise", ern::cli::noise},
      {"compare", ern::cli::compare},
      {"search run-local", ern::cli::search_run_local},
      {"search submit", ern::cli::search_submit},
      {"search list", ern::cli::search_list},
      {"search get", ern::cli::search_get},
      {"search watch", ern::cli::search_watch},
      {"search cancel", ern::cli::search_cancel},
      {"search report", ern::cli::search_report},
      {"search sweep", ern::cli::search_sweep},
      {"search front", ern::cli::search_front},
      {"models list", ern::cli::models_list},
      {"models get", ern::cli::models_get},
      {"models set-default", ern::cli::models_set_default},
      {"models import", ern::cli::models_import},
      {"tokens create", ern::cli::tokens_create},
      {"tokens list", ern::cli::tokens_list},
      {"tokens revoke", ern::cli::tokens_revoke},
      {"audit", ern::cli::audit},
  };
  const ern::cli::Args args = with_global_flags_last(ern::cli::Args(argv + 1, argv + argc));
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::puts(kUsage);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::printf("ernctl %s\n", ern::version_line().c_str());
    return 0;
  }
  // Two-word commands ("model info") first, then one-word ones.
  auto found = commands.end();
  size_t consumed = 0;
  if (args.size() >= 2) {
    found = commands.find(args[0] + " " + args[1]);
    consumed = 2;
  }
  if (found == commands.end()) {
    found = commands.find(args[0]);
    consumed = 1;
  }
  if (found == commands.end()) {
    std::fprintf(stderr, "ernctl: unknown command '%s' (ernctl --help lists them)\n",
                 args[0].c_str());
    return 2;
  }
  const ern::cli::Args command_args(args.begin() + static_cast<std::ptrdiff_t>(consumed),
                                    args.end());
  for (const auto& arg : command_args) {
    if (arg == "--help" || arg == "-h") {
      std::printf("usage: %s", command_usage(found->first).c_str());
      return 0;
    }
  }
  try {
    ern::init_logging();
    return found->second(command_args);
  } catch (const ern::cli::UsageError& error) {
    std::fprintf(stderr, "ernctl %s: %s\n", found->first.c_str(), error.what());
    return 2;
  } catch (const ern::cli::RpcFailure& error) {
    std::fprintf(stderr, "ernctl %s: %s\n", found->first.c_str(), error.what());
    return exit_code_of(error.code);
  } catch (const c10::Error& error) {
    std::fprintf(stderr, "ernctl %s: %s\n", found->first.c_str(), error.what_without_backtrace());
    return 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ernctl %s: %s\n", found->first.c_str(), error.what());
    return 1;
  }
}
