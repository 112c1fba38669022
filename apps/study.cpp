// The batch-norm study: experiments with claims, run and judged (see study.h).
#include "apps/study.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "apps/compare.h"
#include "apps/distributed.h"
#include "apps/experiment.h"
#include "apps/signals.h"
#include "apps/study_page.h"
#include "core/error.h"

namespace fs = std::filesystem;

namespace cnn {

namespace {

// Files as given; folders as their *.yaml files by name.
std::vector<std::string> study_files(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (!fs::is_directory(path, ec)) {
      CNN_CHECK(fs::is_regular_file(path, ec), "study: '", path,
                "' is neither a file nor a folder");
      files.push_back(path);
      continue;
    }
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(path))
      if (entry.path().extension() == ".yaml") found.push_back(entry.path().string());
    CNN_CHECK(!found.empty(), "study: the folder '", path, "' holds no .yaml file");
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

// The runs of an experiment's variants, as compare left them in `runs_dir`.
std::vector<RunReport> experiment_runs(const Experiment& experiment, const std::string& runs_dir) {
  std::vector<std::string> dirs;
  for (const Variant& v : experiment.variants)
    dirs.push_back((fs::path(runs_dir) / v.name).string());
  return read_runs(dirs);
}

}  // namespace

int run_study(const std::vector<std::string>& paths, const StudyOptions& options) {
  const std::vector<std::string> files = study_files(paths);
  // Every file is read and checked (config, claim) before the first run starts.
  std::vector<Experiment> experiments;
  std::vector<Claim> claims;
  for (const std::string& file : files) {
    experiments.push_back(load_experiment(file, options.overrides));
    claims.push_back(read_claim(file));
    check_claim_pairs(claims.back(), experiments.back(), file);
  }
  int written = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const Experiment& experiment = experiments[i];
    spdlog::info("study [{}/{}]: {} ({})", i + 1, files.size(), claims[i].title, files[i]);
    CompareOptions compare;
    compare.out_dir = (fs::path(options.out_dir) / experiment.name).string();
    compare.overrides = options.overrides;
    compare.store = options.store;
    compare.store_optional = options.store_optional;
    compare.quiet = options.quiet;
    compare.reuse_finished = true;
    run_comparison(files[i], compare);
    if (stop_requested()) {
      spdlog::warn("study stopped during '{}'; run the same command again to continue",
                   experiment.name);
      return written;
    }
    if (Distributed::rank() != 0) continue;
    ClaimPage page{experiment.name,  files[i], compare.out_dir,
                   claims[i],        {},       experiment_runs(experiment, compare.out_dir),
                   options.overrides};
    page.verdict = judge_claim(page.claim, group_by_variant(page.runs));
    const std::string written_to = write_claim_page(page, options.results_dir);
    std::printf("claim '%s': %s -> %s\n", page.claim.title.c_str(), page.verdict.word.c_str(),
                written_to.c_str());
    std::fflush(stdout);  // before the next experiment's log lines
    ++written;
  }
  if (Distributed::rank() == 0)
    std::printf("index: %s\n", write_results_index(options.results_dir).c_str());
  return written;
}

}  // namespace cnn
