#pragma once
// The ernctl commands (offline ones, and online ones that talk to the coordinator); each takes the
// arguments after its own name and returns the exit status. Errors are thrown (UsageError for bad
// usage, std::exception otherwise) and printed by main as one line.

#include <string>
#include <vector>

namespace ern::cli {

using Args = std::vector<std::string>;

int model_import_nafnet(const Args& args);
int model_init(const Args& args);
int model_info(const Args& args);
int model_export(const Args& args);
int model_derive(const Args& args);
int model_profile(const Args& args);
int train(const Args& args);
int denoise(const Args& args);
int noise(const Args& args);
int compare(const Args& args);
int evaluate(const Args& args);
int tune_nlm(const Args& args);
int search_run_local(const Args& args);

int search_submit(const Args& args);
int search_list(const Args& args);
int search_get(const Args& args);
int search_watch(const Args& args);
int search_cancel(const Args& args);
int search_report(const Args& args);
int search_sweep(const Args& args);
int search_front(const Args& args);
int models_list(const Args& args);
int models_get(const Args& args);
int models_set_default(const Args& args);
int models_import(const Args& args);
int tokens_create(const Args& args);
int tokens_list(const Args& args);
int tokens_revoke(const Args& args);
int audit(const Args& args);

}  // namespace ern::cli
