// A study file's `claim:` block (see apps/study.h) and the verdict the runs give it.
#pragma once

#include <string>
#include <vector>

#include "apps/report_seeds.h"

namespace cnn {

struct Claim {
  std::string title, statement, why;
  Measure measure;
  std::string baseline = "none";  // the model.norm each variant is judged against
  // When set (`baseline_variant: conv_relu_bn`), every other variant is judged against the
  // variant of that name instead of its model.norm twin: for variants whose layer lists differ.
  std::string baseline_variant;
  // With baseline_variant: only these variants are judged against it (`judged: [a, b]`), the
  // others are shown but not paired (a pretraining run on other classes, say); empty = all.
  std::vector<std::string> judged = {};
};

// Reads the `claim:` block of the experiment file `path` (an Error naming the file and key
// when it is missing or malformed).
Claim read_claim(const std::string& path);

struct Experiment;
// A claim judged against a named variant needs that variant in its file: an Error naming the
// file and the variants it has otherwise (checked before any run starts, rather than a page
// that says "no verdict" an hour later).
void check_claim_pairs(const Claim& claim, const Experiment& experiment, const std::string& file);

struct ClaimVerdict {
  std::string word;  // holds | does not hold | depends | no verdict
  std::string reason;
  std::vector<std::string> pairs;  // one sentence per variant and its twin without norm
};

// holds: every normalized variant beats its twin with the baseline norm (or every variant the
// baseline variant) beyond the seed spread; does not hold: every one loses beyond it; depends:
// some do and some do not; no verdict: fewer than two seeds, no pairs, or every pair within the
// spread.
ClaimVerdict judge_claim(const Claim& claim, const std::vector<VariantRuns>& variants);

}  // namespace cnn
