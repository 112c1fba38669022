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

// One line per normalized variant with a twin: whether its final test accuracy is above the
// twin's beyond the spread ("holds"), below it ("does not hold"), or within it ("within the
// seed spread: no verdict").
std::string seed_verdicts(const std::vector<VariantRuns>& variants);

}  // namespace cnn
