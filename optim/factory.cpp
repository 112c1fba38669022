// Reads the `optim:` and `schedule:` sections. Each optimizer and schedule name lists the
// keys it uses; a key that is unknown, or known but not used by the chosen name, is an
// error naming its path (a silently ignored key is a silently different experiment).
#include "optim/factory.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "optim/adam.h"
#include "optim/param_groups.h"
#include "optim/sgd.h"

namespace cnn {

namespace {

// One key's default where it differs between the section's variants, equal ones merged:
// {{"sgd", "0"}, {"adam", "0"}, {"adamw", "0.01"}} -> "0 (sgd, adam); 0.01 (adamw)".
std::string per_variant(const std::vector<std::pair<std::string, std::string>>& defaults) {
  std::vector<std::pair<std::string, std::string>> merged;  // default text, variant names
  for (const auto& [variant, text] : defaults) {
    auto it = std::find_if(merged.begin(), merged.end(),
                           [&text = text](const auto& entry) { return entry.first == text; });
    if (it == merged.end())
      merged.emplace_back(text, variant);
    else
      it->second += ", " + variant;
  }
  std::string out;
  for (const auto& [text, variants] : merged)
    out += (out.empty() ? "" : "; ") + text + " (" + variants + ")";
  return out;
}

}  // namespace

// The defaults come from the options structs (optim/sgd.h, optim/adam.h) and
// ScheduleDefaults (optim/schedule.h), so each is written once.
const std::vector<KeySpec>& optimizer_keys() {
  static const SGDOptions sgd;
  static const AdamOptions adam;
  static const AdamWOptions adamw;
  static const std::vector<KeySpec> keys = {
      {"name", "required", "sgd | adam | adamw"},
      {"lr",
       per_variant({{"sgd", "required"},
                    {"adam", default_text(adam.lr)},
                    {"adamw", default_text(adamw.lr)}}),
       "learning rate (the schedule's base lr)"},
      {"momentum", default_text(sgd.momentum), "sgd: momentum factor"},
      {"dampening", default_text(sgd.dampening), "sgd: dampening of the momentum's new gradient"},
      {"nesterov", default_text(sgd.nesterov),
       "sgd: Nesterov momentum (needs momentum > 0 and dampening 0)"},
      {"weight_decay",
       per_variant({{"sgd", default_text(sgd.weight_decay)},
                    {"adam", default_text(adam.weight_decay)},
                    {"adamw", default_text(adamw.weight_decay)}}),
       "sgd/adam: L2 penalty added to the gradient; adamw: decoupled decay p *= 1 - lr*wd"},
      {"betas", "[" + default_text(adam.beta1) + ", " + default_text(adam.beta2) + "]",
       "adam/adamw: decay rates of the gradient's mean and square"},
      {"eps", default_text(adam.eps), "adam/adamw: added to the denominator for stability"},
      {"amsgrad", default_text(adam.amsgrad),
       "adam/adamw: use the running maximum of the squared-gradient average"},
      {"exclude_norm_and_bias", "false",
       "no weight decay on biases, 1-D parameters and normalization layers' parameters"},
  };
  return keys;
}

const std::vector<KeySpec>& schedule_keys() {
  using D = ScheduleDefaults;
  static const std::vector<KeySpec> keys = {
      {"name", "constant", "constant | step | multistep | exponential | cosine | onecycle"},
      {"step_size", "required (step)", "step: decay every this many epochs"},
      {"gamma",
       per_variant({{"step", default_text(D::gamma)},
                    {"multistep", default_text(D::gamma)},
                    {"exponential", "required"}}),
       "step/multistep: decay factor; exponential: factor per epoch"},
      {"milestones", "required (multistep)", "multistep: increasing epochs at which to decay"},
      {"eta_min", default_text(D::eta_min), "cosine: final learning rate"},
      {"max_lr", "optim.lr", "onecycle: peak learning rate"},
      {"pct_start", default_text(D::pct_start),
       "onecycle: fraction of the run spent rising to max_lr"},
      {"div_factor", default_text(D::div_factor), "onecycle: starting lr = max_lr / div_factor"},
      {"final_div_factor", default_text(D::final_div_factor),
       "onecycle: final lr = starting lr / final_div_factor"},
      {"warmup_epochs", "0", "any: linear warmup over this many epochs (may be fractional)"},
      {"warmup_steps", "0", "any: linear warmup over this many iterations (instead of epochs)"},
      {"warmup_start_factor", default_text(D::warmup_start_factor),
       "any: the warmup starts at this fraction of the lr (PyTorch LinearLR's 1/3)"},
  };
  return keys;
}

namespace {

// The section's `name` (or the whole node when it is a bare name: `optim: adam`); `fallback`
// when absent ("" = required).
std::string section_name(const ConfigReader& section, const std::string& fallback,
                         const std::string& choices) {
  const YAML::Node& node = section.node();
  if (!node.IsDefined() || node.IsNull()) {
    CNN_CHECK(!fallback.empty(), section.path(), ": expected a mapping with at least `name` (",
              choices, "), found nothing");
    return fallback;
  }
  if (node.IsScalar()) return node.Scalar();
  CNN_CHECK(node.IsMap(), section.path(), ": expected a mapping (or just a name: ", choices,
            "), found ", describe_node(node));
  if (!section.has("name")) {
    CNN_CHECK(!fallback.empty(), section.key_path("name"), ": this key is required (", choices,
              ")");
    return fallback;
  }
  return section.get_string("name", "a name");
}

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const YAML::Node& optim,
                                          const std::vector<NamedTensor>& parameters,
                                          const std::vector<std::string>& no_decay_names,
                                          const std::string& path) {
  const ConfigReader section(optim, path, optimizer_keys());
  const std::string name = section_name(section, "", "sgd, adam or adamw");
  const std::vector<std::string> common = {"name", "lr", "weight_decay", "exclude_norm_and_bias"};
  std::vector<std::string> used = common;
  if (name == "sgd") {
    used.insert(used.end(), {"momentum", "dampening", "nesterov"});
  } else if (name == "adam" || name == "adamw") {
    used.insert(used.end(), {"betas", "eps", "amsgrad"});
  } else {
    CNN_FAIL(section.key_path("name"), ": unknown optimizer '", name,
             "' (known: sgd, adam, adamw)");
  }
  section.check_known_keys(path);
  section.check_used_keys(name, used);

  const bool exclude = section.get_bool("exclude_norm_and_bias");
  if (name == "sgd") {
    SGDOptions options;
    section.require("lr", "for sgd (PyTorch's SGD has no default lr)");
    options.lr = section.get_double("lr");
    options.momentum = section.get_double("momentum");
    options.dampening = section.get_double("dampening");
    options.nesterov = section.get_bool("nesterov");
    options.weight_decay = section.get_double("weight_decay", options.weight_decay);
    section.check_at_least("lr", options.lr, 0.0);
    section.check_at_least("momentum", options.momentum, 0.0);
    section.check_at_least("dampening", options.dampening, 0.0);
    section.check_at_least("weight_decay", options.weight_decay, 0.0);
    section.check("nesterov",
                  !options.nesterov || (options.momentum > 0.0 && options.dampening == 0.0),
                  "nesterov needs momentum > 0 and dampening 0 (as PyTorch), found momentum ",
                  options.momentum, " and dampening ", options.dampening);
    return std::make_unique<SGD>(
        make_param_groups(parameters, no_decay_names, options.weight_decay, exclude), options);
  }

  AdamOptions options;
  if (name == "adamw") options = AdamWOptions();
  options.lr = section.get_double("lr", options.lr);
  options.weight_decay = section.get_double("weight_decay", options.weight_decay);
  options.eps = section.get_double("eps");
  options.amsgrad = section.get_bool("amsgrad");
  const std::vector<double> betas = section.get_double_list("betas", 2);
  for (size_t i = 0; i < 2; ++i)
    section.check_in_range("betas[" + std::to_string(i) + "]", betas[i], 0.0, 1.0, false);
  options.beta1 = betas[0];
  options.beta2 = betas[1];
  section.check_at_least("lr", options.lr, 0.0);
  section.check_at_least("weight_decay", options.weight_decay, 0.0);
  section.check_at_least("eps", options.eps, 0.0);
  std::vector<ParamGroup> groups =
      make_param_groups(parameters, no_decay_names, options.weight_decay, exclude);
  if (name == "adam") return std::make_unique<Adam>(std::move(groups), options);
  AdamWOptions adamw;
  static_cast<AdamOptions&>(adamw) = options;
  return std::make_unique<AdamW>(std::move(groups), adamw);
}

std::unique_ptr<Schedule> make_schedule(const YAML::Node& schedule, double base_lr,
                                        int64_t steps_per_epoch, int64_t epochs,
                                        const std::string& path) {
  CNN_CHECK(steps_per_epoch > 0, path, ": the run needs at least one step per epoch, got ",
            steps_per_epoch);
  CNN_CHECK(epochs > 0, path, ": the run needs at least one epoch, got ", epochs);
  const ConfigReader section(schedule, path, schedule_keys());
  const std::string name = section_name(
      section, "constant", "constant, step, multistep, exponential, cosine or onecycle");
  std::vector<std::string> used = {"name", "warmup_epochs", "warmup_steps", "warmup_start_factor"};
  if (name == "step") {
    used.insert(used.end(), {"step_size", "gamma"});
  } else if (name == "multistep") {
    used.insert(used.end(), {"milestones", "gamma"});
  } else if (name == "exponential") {
    used.insert(used.end(), {"gamma"});
  } else if (name == "cosine") {
    used.insert(used.end(), {"eta_min"});
  } else if (name == "onecycle") {
    used.insert(used.end(), {"max_lr", "pct_start", "div_factor", "final_div_factor"});
  } else if (name != "constant") {
    CNN_FAIL(section.key_path("name"), ": unknown schedule '", name,
             "' (known: constant, step, multistep, exponential, cosine, onecycle)");
  }
  section.check_known_keys(path);
  section.check_used_keys(name, used);
  CNN_CHECK(epochs <= std::numeric_limits<int64_t>::max() / steps_per_epoch, path, ": ", epochs,
            " epochs of ", steps_per_epoch, " steps is more steps than int64 counts");
  const int64_t total_steps = steps_per_epoch * epochs;

  std::unique_ptr<Schedule> out;
  if (name == "constant") {
    out = std::make_unique<ConstantSchedule>(base_lr);
  } else if (name == "step") {
    section.require("step_size", "for the step schedule (decay every this many epochs)");
    const int64_t step_size = section.get_int("step_size");
    section.check("step_size", step_size > 0, "must be > 0 epochs, got ", step_size);
    const double gamma = section.get_double("gamma", ScheduleDefaults::gamma);
    section.check_positive("gamma", gamma);
    out = std::make_unique<StepSchedule>(base_lr, step_size, gamma, steps_per_epoch);
  } else if (name == "multistep") {
    section.require("milestones", "for the multistep schedule (epochs at which to decay)");
    const std::vector<int64_t> milestones = section.get_int_list("milestones");
    for (size_t i = 0; i < milestones.size(); ++i) {
      const std::string item = "milestones[" + std::to_string(i) + "]";
      section.check(item, milestones[i] > 0, "must be an epoch > 0, got ", milestones[i]);
      section.check(item, i == 0 || milestones[i] > milestones[i - 1],
                    "milestones must increase, but ", milestones[i], " follows ",
                    i == 0 ? 0 : milestones[i - 1]);
    }
    const double gamma = section.get_double("gamma", ScheduleDefaults::gamma);
    section.check_positive("gamma", gamma);
    out = std::make_unique<MultiStepSchedule>(base_lr, milestones, gamma, steps_per_epoch);
  } else if (name == "exponential") {
    section.require("gamma", "for the exponential schedule (the lr's factor per epoch)");
    const double gamma = section.get_double("gamma");
    section.check_positive("gamma", gamma);
    out = std::make_unique<ExponentialSchedule>(base_lr, gamma, steps_per_epoch);
  } else if (name == "cosine") {
    const double eta_min = section.get_double("eta_min");
    section.check_at_least("eta_min", eta_min, 0.0);
    out = std::make_unique<CosineSchedule>(base_lr, total_steps, eta_min);
  } else {  // onecycle
    const double max_lr = section.get_double("max_lr", base_lr);
    const double pct_start = section.get_double("pct_start");
    const double div_factor = section.get_double("div_factor");
    const double final_div_factor = section.get_double("final_div_factor");
    section.check_positive("max_lr", max_lr);
    section.check("pct_start", pct_start > 0.0 && pct_start < 1.0,
                  "must be between 0 and 1 (exclusive), got ", pct_start);
    section.check_positive("div_factor", div_factor);
    section.check_positive("final_div_factor", final_div_factor);
    out = std::make_unique<OneCycleSchedule>(max_lr, total_steps, pct_start, div_factor,
                                             final_div_factor);
  }

  // Linear warmup, in epochs or in iterations.
  section.check("warmup_steps", !(section.has("warmup_epochs") && section.has("warmup_steps")),
                "give warmup_epochs or warmup_steps, not both");
  int64_t warmup_steps = 0;
  std::string warmup_key = "warmup_steps";
  if (section.has("warmup_epochs")) {
    warmup_key = "warmup_epochs";
    const double warmup_epochs = section.get_double("warmup_epochs");
    section.check_at_least("warmup_epochs", warmup_epochs, 0.0);
    const double warmup = warmup_epochs * static_cast<double>(steps_per_epoch);
    // llround of a value past int64 is undefined; so long a warmup fails the check below.
    warmup_steps = warmup < 9.0e18 ? std::llround(warmup) : std::numeric_limits<int64_t>::max();
  } else {
    warmup_steps = section.get_int("warmup_steps");
    section.check_at_least("warmup_steps", static_cast<double>(warmup_steps), 0.0);
  }
  section.check(warmup_key, warmup_steps <= total_steps, "the warmup (", warmup_steps,
                " steps) is longer than the run (", epochs, " epochs of ", steps_per_epoch,
                " steps = ", total_steps, " steps)");
  const bool has_start_factor = section.has("warmup_start_factor");
  const double start_factor = section.get_double("warmup_start_factor");
  section.check_in_range("warmup_start_factor", start_factor, 0.0, 1.0, true);
  section.check("warmup_start_factor", !has_start_factor || warmup_steps > 0,
                "has no effect without warmup_epochs or warmup_steps");
  if (warmup_steps > 0)
    out = std::make_unique<WarmupSchedule>(std::move(out), warmup_steps, start_factor);
  return out;
}

}  // namespace cnn
