// Runs repeated over seeds (an experiment's `seeds:`), read as one variant each: the mean
// and the spread ([min, max] over the seeds) of every figure, and for each normalized variant
// with a `norm: none` twin a verdict that holds only when the difference exceeds the spread.
#pragma once

#include <string>
#include <vector>

#include "apps/report.h"

namespace cnn {

struct VariantRuns {
  std::string variant, norm;
  std::vector<const RunReport*> runs;  // one per seed
};

// In the order of first appearance; runs with the same config but for the seed are one.
std::vector<VariantRuns> group_by_variant(const std::vector<RunReport>& runs);

// A markdown table, one row per variant: "mean [min, max]" of each figure over the seeds.
std::string seed_table(const std::vector<VariantRuns>& variants, double threshold);

// A figure a claim is judged on, and which way is better.
struct Measure {
  std::string
      name;  // final_test_acc | best_test_acc | epochs_to_threshold | train_test_gap | step_seconds
  bool higher_is_better = true;
};
// The measure of that name (an Error naming `where` for another).
Measure measure_named(const std::string& name, bool higher_is_better, const std::string& where);

enum class Outcome { holds, does_not_hold, within_spread, no_data };

// A variant against its twin with `model.norm: <baseline>` (none unless a claim says, e.g.
// group for BN against GroupNorm) on one measure, over their seeds.
struct TwinVerdict {
  const VariantRuns* variant;
  const VariantRuns* baseline;
  Outcome outcome;
  // e.g. "bn (batch) against plain (none), final test accuracy over 2 and 2 seeds: ..."
  std::string sentence;
};
// Holds only when the whole seed range of the variant is better than the twin's; a run that
// never reached the threshold counts as infinitely many epochs, a diverged one as the worst.
std::vector<TwinVerdict> twin_verdicts(const std::vector<VariantRuns>& variants,
                                       const Measure& measure,
                                       const std::string& baseline_norm = "none");
// Every other variant against the one named `baseline_variant` (its name without -seed<k>),
// whatever their configs: for claims whose variants differ in more than model.norm (where BN
// sits in the layer list, its momentum), which have no twin by signature. Judged as above.
std::vector<TwinVerdict> verdicts_against_variant(const std::vector<VariantRuns>& variants,
                                                  const Measure& measure,
                                                  const std::string& baseline_variant);

// One line per normalized variant with a twin: whether its final test accuracy is above the
// twin's beyond the spread ("holds"), below it ("does not hold"), or within it ("within the
// seed spread: no verdict").
std::string seed_verdicts(const std::vector<VariantRuns>& variants);

}  // namespace cnn
