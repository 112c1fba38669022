// Claims and their verdicts (see study_claim.h).
#include "apps/study_claim.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "apps/experiment.h"
#include "core/config_reader.h"
#include "core/error.h"

namespace cnn {

Claim read_claim(const std::string& path) {
  const YAML::Node doc = YAML::LoadFile(path);
  const YAML::Node node = doc["claim"];
  CNN_CHECK(node.IsDefined() && node.IsMap(), path,
            ": a study file needs a 'claim:' block (title, statement, measure, "
            "better, why)");
  const std::string where = path + ".claim";
  ConfigReader(node, where,
               {{"title", "required", "the claim in a few words"},
                {"statement", "required", "what would be true if the claim holds"},
                {"measure", "required", "the figure judged"},
                {"better", "required", "higher or lower"},
                {"baseline", "none", "the model.norm each variant is judged against"},
                {"baseline_variant", "\"\"",
                 "a variant name: every other variant is judged against it (not by norm)"},
                {"judged", "[]", "with baseline_variant: the variants judged (all others)"},
                {"why", "\"\"", "the explanation shown beside the verdict"}})
      .check_known_keys("claim");
  for (const char* key : {"title", "statement", "measure", "better"})
    CNN_CHECK(node[key].IsDefined() && node[key].IsScalar(), where, ".", key, ": required");
  const std::string better = node["better"].as<std::string>();
  CNN_CHECK(better == "higher" || better == "lower", where,
            ".better: expected higher or lower, found '", better, "'");
  Claim claim;
  claim.title = node["title"].as<std::string>();
  claim.statement = node["statement"].as<std::string>();
  claim.why = node["why"].IsDefined() ? node["why"].as<std::string>() : "";
  if (node["baseline"].IsDefined()) claim.baseline = node["baseline"].as<std::string>();
  if (node["baseline_variant"].IsDefined()) {
    CNN_CHECK(!node["baseline"].IsDefined(), where,
              ": give either baseline (a model.norm, paired by config) or baseline_variant (a "
              "variant name), not both");
    CNN_CHECK(node["baseline_variant"].IsScalar(), where,
              ".baseline_variant: expected the name of one of the file's variants");
    claim.baseline_variant = node["baseline_variant"].as<std::string>();
  }
  if (node["judged"].IsDefined()) {
    CNN_CHECK(!claim.baseline_variant.empty(), where,
              ".judged: names the variants judged against baseline_variant, which is not given");
    CNN_CHECK(node["judged"].IsSequence() && node["judged"].size() > 0, where,
              ".judged: expected a non-empty list of variant names");
    for (const YAML::Node& name : node["judged"]) {
      CNN_CHECK(name.IsScalar(), where, ".judged: expected variant names, found a ",
                name.IsMap() ? "mapping" : "list");
      claim.judged.push_back(name.as<std::string>());
    }
  }
  claim.measure =
      measure_named(node["measure"].as<std::string>(), better == "higher", where + ".measure");
  return claim;
}

void check_claim_pairs(const Claim& claim, const Experiment& experiment, const std::string& file) {
  if (claim.baseline_variant.empty()) return;
  std::vector<std::string> groups;
  std::string names;
  for (const Variant& v : experiment.variants) {
    if (std::find(groups.begin(), groups.end(), v.group) != groups.end()) continue;
    groups.push_back(v.group);
    names += (names.empty() ? "'" : ", '") + v.group + "'";
  }
  auto has = [&](const std::string& name) {
    return std::find(groups.begin(), groups.end(), name) != groups.end();
  };
  CNN_CHECK(has(claim.baseline_variant), file, ".claim.baseline_variant: no variant is named '",
            claim.baseline_variant, "' (the file's variants: ", names, ")");
  for (size_t i = 0; i < claim.judged.size(); ++i) {
    CNN_CHECK(has(claim.judged[i]), file, ".claim.judged[", i, "]: no variant is named '",
              claim.judged[i], "' (the file's variants: ", names, ")");
    CNN_CHECK(claim.judged[i] != claim.baseline_variant, file, ".claim.judged[", i, "]: '",
              claim.judged[i], "' is the baseline variant itself");
  }
}

ClaimVerdict judge_claim(const Claim& claim, const std::vector<VariantRuns>& variants) {
  ClaimVerdict verdict;
  size_t min_seeds = SIZE_MAX;
  int holds = 0, fails = 0, within = 0;
  const bool by_name = !claim.baseline_variant.empty();
  const std::vector<TwinVerdict> paired =
      by_name ? verdicts_against_variant(variants, claim.measure, claim.baseline_variant)
              : twin_verdicts(variants, claim.measure, claim.baseline);
  for (const TwinVerdict& v : paired) {
    if (!claim.judged.empty() && std::find(claim.judged.begin(), claim.judged.end(),
                                           v.variant->variant) == claim.judged.end())
      continue;
    verdict.pairs.push_back(v.sentence);
    min_seeds = std::min({min_seeds, v.variant->runs.size(), v.baseline->runs.size()});
    holds += v.outcome == Outcome::holds;
    fails += v.outcome == Outcome::does_not_hold;
    within += v.outcome == Outcome::within_spread || v.outcome == Outcome::no_data;
  }
  const int pairs = holds + fails + within;
  if (pairs == 0)
    return {"no verdict",
            by_name ? "no runs of the baseline variant '" + claim.baseline_variant +
                          "', or no other variant"
                    : "no variant has a twin with `model.norm: " + claim.baseline + "`",
            {}};
  // "every variant is better than conv_relu_bn" / "every normalized variant is worse than its twin"
  const std::string who = !claim.judged.empty() ? "every judged variant is "
                          : by_name             ? "every variant is "
                                                : "every normalized variant is ";
  const std::string whom = by_name ? claim.baseline_variant : "its twin";
  if (min_seeds < 2) {
    verdict.word = "no verdict";
    verdict.reason = "a variant ran with one seed; a verdict needs the spread of two or more";
  } else if (holds == pairs) {
    verdict.word = "holds";
    verdict.reason = who + "better than " + whom + " beyond the seed spread";
  } else if (fails == pairs) {
    verdict.word = "does not hold";
    verdict.reason = who + "worse than " + whom + " beyond the seed spread";
  } else if (holds > 0 || fails > 0) {
    verdict.word = "depends";
    verdict.reason = std::to_string(holds) + " of " + std::to_string(pairs) +
                     " pairs better beyond the spread, " + std::to_string(fails) + " worse, " +
                     std::to_string(within) + " within it (see the pairs below)";
  } else {
    // A claim holds only beyond the spread; two or more seeds and no difference beyond it
    // is a finding against the claim at this budget, not a missing measurement.
    verdict.word = "does not hold";
    verdict.reason = "no pair differs beyond the seed spread: the claimed difference is not seen";
  }
  return verdict;
}

}  // namespace cnn
