// Seed statistics of a report (see report_seeds.h).
#include "apps/report_seeds.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

namespace cnn {

namespace {

struct Spread {
  double mean = std::nan(""), min = std::nan(""), max = std::nan("");
  int count = 0;
};

// Over the finite values only (a diverged run's accuracy may be missing).
template <typename Field>
Spread spread_of(const VariantRuns& v, Field field) {
  Spread s;
  double sum = 0;
  for (const RunReport* r : v.runs) {
    const double x = field(*r);
    if (!std::isfinite(x)) continue;
    s.min = s.count ? std::min(s.min, x) : x;
    s.max = s.count ? std::max(s.max, x) : x;
    sum += x;
    ++s.count;
  }
  if (s.count) s.mean = sum / s.count;
  return s;
}

std::string shown(const Spread& s, double scale, int digits, const char* unit) {
  if (!s.count) return "n/a";
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << s.mean * scale << unit;
  if (s.count > 1) out << " [" << s.min * scale << ", " << s.max * scale << "]";
  return out.str();
}

std::string count_of(const VariantRuns& v, bool (*failed)(const RunReport&)) {
  int n = 0;
  for (const RunReport* r : v.runs) n += failed(*r);
  return std::to_string(n) + "/" + std::to_string(v.runs.size());
}

}  // namespace

std::vector<VariantRuns> group_by_variant(const std::vector<RunReport>& runs) {
  std::vector<VariantRuns> variants;
  for (const RunReport& r : runs) {
    auto it = std::find_if(variants.begin(), variants.end(), [&](const VariantRuns& v) {
      return v.runs.front()->seedless == r.seedless;
    });
    if (it == variants.end()) variants.push_back({r.variant, r.norm, {&r}});
    else it->runs.push_back(&r);
  }
  return variants;
}

std::string seed_table(const std::vector<VariantRuns>& variants, double threshold) {
  std::ostringstream out;
  out << "| variant | norm | seeds | final test acc | best test acc | epochs to "
      << std::fixed << std::setprecision(2) << threshold * 100
      << "% | diverged | collapsed | step time (ms) | train-test gap (pts) |\n"
      << "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const VariantRuns& v : variants) {
    const Spread final_acc = spread_of(v, [](const RunReport& r) { return r.final_test_acc; });
    const Spread best_acc = spread_of(v, [](const RunReport& r) { return r.best_test_acc; });
    const Spread epochs = spread_of(v, [](const RunReport& r) {
      return r.epochs_to_threshold > 0 ? static_cast<double>(r.epochs_to_threshold) : std::nan("");
    });
    const Spread step = spread_of(v, [](const RunReport& r) { return r.step_seconds; });
    const Spread gap = spread_of(v, [](const RunReport& r) {
      return r.epochs.empty() ? std::nan("") : r.epochs.back().train_acc - r.epochs.back().test_acc;
    });
    const std::string reached = shown(epochs, 1, 1, "") +
                                (epochs.count < static_cast<int>(v.runs.size())
                                     ? " (" + std::to_string(v.runs.size() - epochs.count) + " never)"
                                     : "");
    out << "| " << v.variant << " | " << v.norm << " | " << v.runs.size() << " | "
        << shown(final_acc, 100, 2, "%") << " | " << shown(best_acc, 100, 2, "%") << " | "
        << reached << " | " << count_of(v, [](const RunReport& r) { return r.diverged; })
        << " | " << count_of(v, [](const RunReport& r) { return r.collapsed; }) << " | "
        << shown(step, 1000, 1, "") << " | " << shown(gap, 100, 2, "") << " |\n";
  }
  return out.str();
}

std::string seed_verdicts(const std::vector<VariantRuns>& variants) {
  std::ostringstream out;
  for (const VariantRuns& v : variants) {
    if (v.norm == "none") continue;
    for (const VariantRuns& base : variants) {
      if (base.norm != "none" ||
          base.runs.front()->seedless_signature != v.runs.front()->seedless_signature)
        continue;
      const auto final_of = [](const RunReport& r) { return r.final_test_acc; };
      const Spread a = spread_of(v, final_of), b = spread_of(base, final_of);
      out << "- " << v.variant << " (" << v.norm << ") against " << base.variant
          << " (none), final test accuracy over " << v.runs.size() << " and " << base.runs.size()
          << " seeds: ";
      if (!a.count || !b.count)
        out << "no verdict (a variant has no finite accuracy)\n";
      else if (a.min > b.max)
        out << "higher beyond the seed spread: holds\n";
      else if (a.max < b.min)
        out << "lower beyond the seed spread: does not hold\n";
      else
        out << "the ranges overlap: within the seed spread, no verdict\n";
    }
  }
  return out.str();
}

}  // namespace cnn
