// The results pages of the study: RESULTS/<experiment>.md per claim (verdict, seed table,
// plots, explanation, the experiment file), a RESULTS/<experiment>.json with the page's
// headline for the index, and RESULTS/README.md, the index of every claim page in the folder.
#pragma once

#include <string>
#include <vector>

#include "apps/report.h"
#include "apps/study_claim.h"

namespace cnn {

struct ClaimPage {
  std::string experiment_name, experiment_path;
  std::string runs_dir;  // where the runs and their plots are (OUT/<experiment>)
  Claim claim;
  ClaimVerdict verdict;
  std::vector<RunReport> runs;
  std::vector<std::string> overrides;  // the study's --set
};

// Writes the page and its plots (copied from runs_dir/plots); returns the page's path.
std::string write_claim_page(const ClaimPage& page, const std::string& results_dir);

// Rewrites RESULTS/README.md from the .json headlines of every page in the folder.
std::string write_results_index(const std::string& results_dir);

}  // namespace cnn
