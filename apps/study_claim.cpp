// Claims and their verdicts (see study_claim.h).
#include "apps/study_claim.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

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
  claim.measure =
      measure_named(node["measure"].as<std::string>(), better == "higher", where + ".measure");
  return claim;
}

ClaimVerdict judge_claim(const Claim& claim, const std::vector<VariantRuns>& variants) {
  ClaimVerdict verdict;
  size_t min_seeds = SIZE_MAX;
  int holds = 0, fails = 0, within = 0;
  for (const TwinVerdict& v : twin_verdicts(variants, claim.measure, claim.baseline)) {
    verdict.pairs.push_back(v.sentence);
    min_seeds = std::min({min_seeds, v.variant->runs.size(), v.baseline->runs.size()});
    holds += v.outcome == Outcome::holds;
    fails += v.outcome == Outcome::does_not_hold;
    within += v.outcome == Outcome::within_spread || v.outcome == Outcome::no_data;
  }
  const int pairs = holds + fails + within;
  if (pairs == 0) return {"no verdict", "no variant has a twin with `model.norm: " + claim.baseline + "`", {}};
  if (min_seeds < 2) {
    verdict.word = "no verdict";
    verdict.reason = "a variant ran with one seed; a verdict needs the spread of two or more";
  } else if (holds == pairs) {
    verdict.word = "holds";
    verdict.reason = "every normalized variant is better than its twin beyond the seed spread";
  } else if (fails == pairs) {
    verdict.word = "does not hold";
    verdict.reason = "every normalized variant is worse than its twin beyond the seed spread";
  } else if (holds > 0 || fails > 0) {
    verdict.word = "depends";
    verdict.reason = std::to_string(holds) + " of " + std::to_string(pairs) +
                     " pairs better beyond the spread, " + std::to_string(fails) + " worse, " +
                     std::to_string(within) + " within it (see the pairs below)";
  } else {
    verdict.word = "no verdict";
    verdict.reason = "every pair is within the seed spread";
  }
  return verdict;
}

}  // namespace cnn
