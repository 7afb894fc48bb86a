// ernctl search report JOB|DIR -o report.html: a search's curves and results as one self-contained
// HTML page, drawn by scripts/search_report.py with Debian's matplotlib.

#include <cstdio>
#include <filesystem>

#include "client/commands.h"
#include "client/model_lookup.h"
#include "client/search_pages.h"
#include "common/atomic_file.h"
#include "common/temp_dir.h"
#include "ern/v1/search.grpc.pb.h"

namespace ern::cli {
namespace {

namespace fs = std::filesystem;

// The report.json of a finished job: its registered model holds it.
std::string report_of_job(const Arguments& args, const std::string& job_id) {
  const auto server = connect_to_server(args);
  v1::GetJobRequest job_request;
  job_request.set_id(job_id);
  v1::Job job;
  check_rpc(
      v1::SearchService::NewStub(server.channel)->GetJob(server.context().get(), job_request, &job),
      "GetJob", server);
  if (job.state() != v1::SUCCEEDED) {
    throw std::runtime_error(job_id + " is " + v1::JobState_Name(job.state()) +
                             ": only a SUCCEEDED job has a report");
  }
  return get_model(server, job.model()).report_json();
}

}  // namespace

int search_report(const Args& raw) {
  Arguments args(raw, with_connection_flags({"o"}));
  args.expect_positionals(1, "ernctl search report JOB|DIR -o report.html");
  const std::string source = args.positional(0, "JOB|DIR");
  const fs::path output = args.required("o");
  TempDir temporary("ern-report");
  fs::path report = fs::path(source) / "report.json";
  if (fs::is_directory(source)) {
    if (!fs::is_regular_file(report)) {
      throw UsageError(source + ": no report.json (a finished search's output directory)");
    }
  } else {
    report = temporary / "report.json";
    write_file_atomically(report, report_of_job(args, source));
  }
  draw_search_page("report", report, output);
  std::printf("%s\n", output.string().c_str());
  return 0;
}

}  // namespace ern::cli
