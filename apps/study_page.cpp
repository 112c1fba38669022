// Writing the study's pages (see study_page.h).
#include "apps/study_page.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "apps/report_seeds.h"
#include "apps/run_files.h"
#include "core/error.h"

namespace fs = std::filesystem;

namespace cnn {

namespace {

// The machine the figures come from, for the page's headline: "AMD EPYC, 2 cores".
std::string machine_name() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, model = "unknown CPU";
  while (std::getline(cpuinfo, line))
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  return model + ", " + std::to_string(std::thread::hardware_concurrency()) + " cores";
}

double training_minutes(const std::vector<RunReport>& runs) {
  double seconds = 0;
  for (const RunReport& r : runs)
    for (const EpochRecord& e : r.epochs) seconds += e.seconds;
  return seconds / 60.0;
}

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  CNN_CHECK(in.good(), "study: cannot read '", path, "'");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The run's plots next to the page, in RESULTS/<experiment>/: the markdown names them there.
std::vector<std::string> copy_plots(const ClaimPage& page, const fs::path& results) {
  std::vector<std::string> names;
  const fs::path from = fs::path(page.runs_dir) / "plots", to = results / page.experiment_name;
  std::error_code ec;
  if (!fs::is_directory(from, ec)) return names;
  fs::create_directories(to, ec);
  CNN_CHECK(!ec, "study: cannot create '", to.string(), "': ", ec.message());
  for (const auto& entry : fs::directory_iterator(from)) {
    if (entry.path().extension() != ".png") continue;
    fs::copy_file(entry.path(), to / entry.path().filename(), fs::copy_options::overwrite_existing,
                  ec);
    CNN_CHECK(!ec, "study: cannot copy '", entry.path().string(), "': ", ec.message());
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string page_markdown(const ClaimPage& page, const std::vector<std::string>& plots,
                          const std::string& when, double minutes) {
  std::ostringstream md;
  md << "# " << page.claim.title << "\n\n"
     << "**Claim.** " << page.claim.statement << "\n\n"
     << "**Verdict: " << page.verdict.word << "** — " << page.verdict.reason << " (judged on "
     << page.claim.measure.name << ", "
     << (page.claim.measure.higher_is_better ? "higher" : "lower") << " is better).\n\n";
  for (const std::string& pair : page.verdict.pairs) md << "- " << pair << "\n";
  md << "\nPage written " << when << " from runs on " << machine_name() << ": " << page.runs.size()
     << " runs, " << std::fixed << std::setprecision(1) << minutes << " min of training";
  if (!page.overrides.empty()) {
    md << ", with";
    for (const std::string& o : page.overrides) md << " `--set " << o << "`";
  }
  md << ". Reproduce: `cnnlab study " << page.experiment_path << "`.\n\n";
  md << "## Results over seeds (mean [min, max])\n\n"
     << seed_table(group_by_variant(page.runs), page.runs.front().threshold) << "\n";
  md << "## Why\n\n"
     << (page.claim.why.empty() ? "(no explanation given)\n" : page.claim.why) << "\n";
  if (!plots.empty()) md << "## Plots\n\n";
  for (const std::string& p : plots)
    md << "![" << p << "](" << page.experiment_name << "/" << p << ")\n\n";
  md << "## Per run\n\n" << comparison_table(page.runs) << "\n";
  md << "## The experiment\n\n```yaml\n" << file_text(page.experiment_path) << "```\n";
  return md.str();
}

}  // namespace

std::string write_claim_page(const ClaimPage& page, const std::string& results_dir) {
  CNN_CHECK(!page.runs.empty(), "study: experiment '", page.experiment_name,
            "' has no runs to report");
  const fs::path results(results_dir);
  std::error_code ec;
  fs::create_directories(results, ec);
  CNN_CHECK(!ec, "study: cannot create '", results_dir, "': ", ec.message());
  const std::string when = timestamp_iso();
  const double minutes = training_minutes(page.runs);
  const std::vector<std::string> plots = copy_plots(page, results);
  const fs::path path = results / (page.experiment_name + ".md");
  write_text_file_atomically(path.string(), page_markdown(page, plots, when, minutes));
  nlohmann::ordered_json headline = {
      {"title", page.claim.title}, {"verdict", page.verdict.word}, {"reason", page.verdict.reason},
      {"runs", page.runs.size()},  {"training_minutes", minutes},  {"written", when},
      {"machine", machine_name()}};
  write_text_file_atomically((results / (page.experiment_name + ".json")).string(),
                             json_text(headline));
  return path.string();
}

std::string write_results_index(const std::string& results_dir) {
  std::vector<fs::path> headlines;
  for (const auto& entry : fs::directory_iterator(results_dir))
    if (entry.path().extension() == ".json") headlines.push_back(entry.path());
  std::sort(headlines.begin(), headlines.end());
  std::ostringstream md;
  md << "# The batch-norm study\n\nOne page per claim, written by `cnnlab study`: the verdict "
        "holds only when the difference exceeds the seed spread.\n\n"
     << "| claim | verdict | runs | training (min) | page written | machine "
        "|\n|---|---|---|---|---|---|\n";
  for (const fs::path& p : headlines) {
    const nlohmann::json h = read_json_file(p.string());
    md << "| [" << h.value("title", p.stem().string()) << "](" << p.stem().string() << ".md) | "
       << h.value("verdict", "") << " | " << h.value("runs", 0) << " | " << std::fixed
       << std::setprecision(1) << h.value("training_minutes", 0.0) << " | "
       << h.value("written", "") << " | " << h.value("machine", "") << " |\n";
  }
  const std::string path = (fs::path(results_dir) / "README.md").string();
  write_text_file_atomically(path, md.str());
  return path;
}

}  // namespace cnn
