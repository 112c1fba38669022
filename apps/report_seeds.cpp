// Seed statistics of a report (see report_seeds.h).
#include "apps/report_seeds.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "core/error.h"

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
    if (it == variants.end())
      variants.push_back({r.variant, r.norm, {&r}});
    else
      it->runs.push_back(&r);
  }
  return variants;
}

std::string seed_table(const std::vector<VariantRuns>& variants, double threshold) {
  std::ostringstream out;
  out << "| variant | norm | seeds | final test acc | best test acc | epochs to " << std::fixed
      << std::setprecision(2) << threshold * 100
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
    const std::string reached =
        shown(epochs, 1, 1, "") +
        (epochs.count < static_cast<int>(v.runs.size())
             ? " (" + std::to_string(v.runs.size() - epochs.count) + " never)"
             : "");
    out << "| " << v.variant << " | " << v.norm << " | " << v.runs.size() << " | "
        << shown(final_acc, 100, 2, "%") << " | " << shown(best_acc, 100, 2, "%") << " | "
        << reached << " | " << count_of(v, [](const RunReport& r) { return r.diverged; }) << " | "
        << count_of(v, [](const RunReport& r) { return r.collapsed; }) << " | "
        << shown(step, 1000, 1, "") << " | " << shown(gap, 100, 2, "") << " |\n";
  }
  return out.str();
}

Measure measure_named(const std::string& name, bool higher_is_better, const std::string& where) {
  static const char* const known[] = {"final_test_acc", "best_test_acc", "epochs_to_threshold",
                                      "train_test_gap", "step_seconds"};
  CNN_CHECK(std::find(std::begin(known), std::end(known), name) != std::end(known), where,
            ": unknown measure '", name,
            "' (final_test_acc, best_test_acc, epochs_to_threshold, train_test_gap, step_seconds)");
  return {name, higher_is_better};
}

namespace {

// The figure a verdict compares. A run that failed to produce one is the worst possible
// value (never reached the threshold, diverged), so that it cannot make a claim hold.
double judged_value(const RunReport& r, const Measure& m) {
  const double worst = m.higher_is_better ? -INFINITY : INFINITY;
  double x = std::nan("");
  if (m.name == "final_test_acc")
    x = r.final_test_acc;
  else if (m.name == "best_test_acc")
    x = r.best_test_acc;
  else if (m.name == "epochs_to_threshold")
    x = r.epochs_to_threshold > 0 ? static_cast<double>(r.epochs_to_threshold) : worst;
  else if (m.name == "step_seconds")
    x = r.step_seconds;
  else if (m.name == "train_test_gap" && !r.epochs.empty())
    x = r.epochs.back().train_acc - r.epochs.back().test_acc;
  if (r.diverged && m.name != "step_seconds") return worst;
  return std::isnan(x) ? worst : x;
}

std::string measure_label(const std::string& name) {
  if (name == "final_test_acc") return "final test accuracy";
  if (name == "best_test_acc") return "best test accuracy";
  if (name == "epochs_to_threshold") return "epochs to the accuracy threshold";
  if (name == "train_test_gap") return "train-test accuracy gap";
  return "step time";
}

struct Range {
  double min = INFINITY, max = -INFINITY;
};

Range range_of(const VariantRuns& v, const Measure& m) {
  Range r;
  for (const RunReport* run : v.runs) {
    const double x = judged_value(*run, m);
    r.min = std::min(r.min, x);
    r.max = std::max(r.max, x);
  }
  return r;
}

std::string verdict_sentence(const VariantRuns& v, const VariantRuns& base, const Measure& m,
                             Outcome outcome) {
  std::ostringstream out;
  out << v.variant << " (" << v.norm << ") against " << base.variant << " (" << base.norm << "), "
      << measure_label(m.name) << " over " << v.runs.size() << " and " << base.runs.size()
      << " seeds: ";
  const char* better = m.higher_is_better ? "higher" : "lower";
  const char* worse = m.higher_is_better ? "lower" : "higher";
  switch (outcome) {
    case Outcome::holds:
      out << better << " beyond the seed spread: holds";
      break;
    case Outcome::does_not_hold:
      out << worse << " beyond the seed spread: does not hold";
      break;
    case Outcome::within_spread:
      out << "the ranges overlap: within the seed spread";
      break;
    case Outcome::no_data:
      out << "no verdict (a variant has no runs)";
      break;
  }
  return out.str();
}

}  // namespace

namespace {

TwinVerdict pair_verdict(const VariantRuns& v, const VariantRuns& base, const Measure& m) {
  const Range a = range_of(v, m), b = range_of(base, m);
  const bool a_better = m.higher_is_better ? a.min > b.max : a.max < b.min;
  const bool a_worse = m.higher_is_better ? a.max < b.min : a.min > b.max;
  const Outcome outcome = v.runs.empty() || base.runs.empty() ? Outcome::no_data
                          : a_better                          ? Outcome::holds
                          : a_worse                           ? Outcome::does_not_hold
                                                              : Outcome::within_spread;
  return {&v, &base, outcome, verdict_sentence(v, base, m, outcome)};
}

}  // namespace

std::vector<TwinVerdict> twin_verdicts(const std::vector<VariantRuns>& variants, const Measure& m,
                                       const std::string& baseline_norm) {
  std::vector<TwinVerdict> verdicts;
  for (const VariantRuns& v : variants) {
    if (v.norm == baseline_norm || (baseline_norm != "none" && v.norm == "none")) continue;
    for (const VariantRuns& base : variants)
      if (base.norm == baseline_norm &&
          base.runs.front()->seedless_signature == v.runs.front()->seedless_signature)
        verdicts.push_back(pair_verdict(v, base, m));
  }
  return verdicts;
}

std::vector<TwinVerdict> verdicts_against_variant(const std::vector<VariantRuns>& variants,
                                                  const Measure& m,
                                                  const std::string& baseline_variant) {
  std::vector<TwinVerdict> verdicts;
  const auto base = std::find_if(variants.begin(), variants.end(), [&](const VariantRuns& v) {
    return v.variant == baseline_variant;
  });
  if (base == variants.end()) return verdicts;
  for (const VariantRuns& v : variants)
    if (&v != &*base) verdicts.push_back(pair_verdict(v, *base, m));
  return verdicts;
}

std::string seed_verdicts(const std::vector<VariantRuns>& variants) {
  std::ostringstream out;
  for (const TwinVerdict& v : twin_verdicts(variants, {"final_test_acc", true}))
    out << "- " << v.sentence << "\n";
  return out.str();
}

}  // namespace cnn
