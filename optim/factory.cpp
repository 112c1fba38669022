// Reads the `optim:` and `schedule:` sections. Each optimizer and schedule name lists the
// keys it uses; a key that is unknown, or known but not used by the chosen name, is an
// error naming its path (a silently ignored key is a silently different experiment).
#include "optim/factory.h"
#include "core/yaml_read.h"

#include <cmath>
#include <limits>
#include <set>

#include "optim/adam.h"
#include "optim/param_groups.h"
#include "optim/sgd.h"

namespace cnn {

const std::vector<KeySpec>& optimizer_keys() {
  static const std::vector<KeySpec> keys = {
      {"name", "required", "sgd | adam | adamw"},
      {"lr", "required (sgd); 0.001 (adam, adamw)", "learning rate (the schedule's base lr)"},
      {"momentum", "0", "sgd: momentum factor"},
      {"dampening", "0", "sgd: dampening of the momentum's new gradient"},
      {"nesterov", "false", "sgd: Nesterov momentum (needs momentum > 0 and dampening 0)"},
      {"weight_decay", "0 (sgd, adam); 0.01 (adamw)",
       "sgd/adam: L2 penalty added to the gradient; adamw: decoupled decay p *= 1 - lr*wd"},
      {"betas", "[0.9, 0.999]", "adam/adamw: decay rates of the gradient's mean and square"},
      {"eps", "1e-8", "adam/adamw: added to the denominator for stability"},
      {"amsgrad", "false", "adam/adamw: use the running maximum of the squared-gradient average"},
      {"exclude_norm_and_bias", "false",
       "no weight decay on biases, 1-D parameters and normalization layers' parameters"},
  };
  return keys;
}

const std::vector<KeySpec>& schedule_keys() {
  static const std::vector<KeySpec> keys = {
      {"name", "constant", "constant | step | multistep | exponential | cosine | onecycle"},
      {"step_size", "required (step)", "step: decay every this many epochs"},
      {"gamma", "0.1 (step, multistep); required (exponential)",
       "step/multistep: decay factor; exponential: factor per epoch"},
      {"milestones", "required (multistep)", "multistep: increasing epochs at which to decay"},
      {"eta_min", "0", "cosine: final learning rate"},
      {"max_lr", "optim.lr", "onecycle: peak learning rate"},
      {"pct_start", "0.3", "onecycle: fraction of the run spent rising to max_lr"},
      {"div_factor", "25", "onecycle: starting lr = max_lr / div_factor"},
      {"final_div_factor", "10000", "onecycle: final lr = starting lr / final_div_factor"},
      {"warmup_epochs", "0", "any: linear warmup over this many epochs (may be fractional)"},
      {"warmup_steps", "0", "any: linear warmup over this many iterations (instead of epochs)"},
      {"warmup_start_factor", "0.3333",
       "any: the warmup starts at this fraction of the lr (PyTorch LinearLR's 1/3)"},
  };
  return keys;
}

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// One section's mapping with typed getters whose errors name the key path.
class Section {
 public:
  Section(const YAML::Node& node, std::string path) : node_(node), path_(std::move(path)) {}

  std::string key_path(const std::string& key) const { return path_ + "." + key; }
  bool has(const std::string& key) const {
    return node_.IsMap() && node_[key].IsDefined() && !node_[key].IsNull();
  }

  // Every key must be in `all`, and in `used` (the keys of the chosen `name`).
  void check_keys(const std::vector<KeySpec>& all, const std::string& name,
                  const std::vector<std::string>& used) const {
    if (!node_.IsMap()) return;
    std::vector<std::string> all_names;
    for (const KeySpec& spec : all) all_names.push_back(spec.name);
    const std::set<std::string> known(all_names.begin(), all_names.end());
    const std::set<std::string> allowed(used.begin(), used.end());
    for (const auto& item : node_) {
      const std::string key = item.first.Scalar();
      CNN_CHECK(known.count(key), key_path(key), ": unknown key (", path_,
                " keys: ", join(all_names), ")");
      CNN_CHECK(allowed.count(key), key_path(key), ": ", name, " does not use this key (", name,
                " keys: ", join(used), ")");
    }
  }

  double number(const std::string& key, double fallback) const {
    return has(key) ? convert<double>(node_[key], key_path(key), "a number") : fallback;
  }
  double required_number(const std::string& key, const std::string& why) const {
    CNN_CHECK(has(key), key_path(key), ": this key is required ", why);
    return number(key, 0.0);
  }
  int64_t integer(const std::string& key, int64_t fallback) const {
    return has(key) ? convert<int64_t>(node_[key], key_path(key), "an integer") : fallback;
  }
  bool boolean(const std::string& key, bool fallback) const {
    return has(key) ? convert<bool>(node_[key], key_path(key), "true or false") : fallback;
  }
  std::vector<double> numbers(const std::string& key, size_t count) const {
    const YAML::Node value = node_[key];
    CNN_CHECK(
        value.IsSequence() && value.size() == count, key_path(key), ": expected a list of ", count,
        " numbers, found ",
        value.IsSequence() ? "a list of " + std::to_string(value.size()) : describe_node(value));
    std::vector<double> out;
    for (size_t i = 0; i < count; ++i)
      out.push_back(convert<double>(value[i], item_path(key, i), "a number"));
    return out;
  }
  std::vector<int64_t> integers(const std::string& key) const {
    const YAML::Node value = node_[key];
    CNN_CHECK(value.IsSequence(), key_path(key), ": expected a list of integers, found ",
              describe_node(value));
    std::vector<int64_t> out;
    for (size_t i = 0; i < value.size(); ++i)
      out.push_back(convert<int64_t>(value[i], item_path(key, i), "an integer"));
    return out;
  }
  std::string item_path(const std::string& key, size_t i) const {
    return key_path(key) + "[" + std::to_string(i) + "]";
  }

  // The section's `name` (or the whole node when it is a bare name).
  std::string name(const std::string& fallback, const std::string& choices) const {
    if (!node_.IsDefined() || node_.IsNull()) {
      CNN_CHECK(!fallback.empty(), path_, ": expected a mapping with at least `name` (", choices,
                "), found nothing");
      return fallback;
    }
    if (node_.IsScalar()) return node_.Scalar();
    CNN_CHECK(node_.IsMap(), path_, ": expected a mapping (or just a name: ", choices, "), found ",
              describe_node(node_));
    if (!has("name")) {
      CNN_CHECK(!fallback.empty(), key_path("name"), ": this key is required (", choices, ")");
      return fallback;
    }
    return convert<std::string>(node_["name"], key_path("name"), "a name");
  }

 private:
  template <typename T>
  static T convert(const YAML::Node& node, const std::string& path, const char* expected) {
    try {
      if (!node.IsScalar()) throw YAML::BadConversion(node.Mark());
      T value = node.as<T>();
      if constexpr (std::is_floating_point_v<T>)
        CNN_CHECK(std::isfinite(value), path, ": expected a finite number, found '", node.Scalar(),
                  "'");
      return value;
    } catch (const YAML::Exception&) {
      CNN_FAIL(path, ": expected ", expected, ", found ", describe_node(node));
    }
  }

  YAML::Node node_;
  std::string path_;
};

// Range checks with the key path in the message.
void check_at_least(const Section& section, const std::string& key, double value, double low) {
  CNN_CHECK(value >= low, section.key_path(key), ": must be >= ", low, ", got ", value);
}
void check_positive(const Section& section, const std::string& key, double value) {
  CNN_CHECK(value > 0.0, section.key_path(key), ": must be > 0, got ", value);
}

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const YAML::Node& optim, const Module& model,
                                          const std::string& path) {
  const Section section(optim, path);
  const std::string name = section.name("", "sgd, adam or adamw");
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
  section.check_keys(optimizer_keys(), name, used);

  const bool exclude = section.boolean("exclude_norm_and_bias", false);
  if (name == "sgd") {
    SGDOptions options;
    options.lr = section.required_number("lr", "for sgd (PyTorch's SGD has no default lr)");
    options.momentum = section.number("momentum", options.momentum);
    options.dampening = section.number("dampening", options.dampening);
    options.nesterov = section.boolean("nesterov", options.nesterov);
    options.weight_decay = section.number("weight_decay", options.weight_decay);
    check_at_least(section, "lr", options.lr, 0.0);
    check_at_least(section, "momentum", options.momentum, 0.0);
    check_at_least(section, "dampening", options.dampening, 0.0);
    check_at_least(section, "weight_decay", options.weight_decay, 0.0);
    CNN_CHECK(!options.nesterov || (options.momentum > 0.0 && options.dampening == 0.0),
              section.key_path("nesterov"),
              ": nesterov needs momentum > 0 and dampening 0 (as PyTorch), found momentum ",
              options.momentum, " and dampening ", options.dampening);
    return std::make_unique<SGD>(make_param_groups(model, options.weight_decay, exclude), options);
  }

  AdamOptions options;
  if (name == "adamw") options = AdamWOptions();
  options.lr = section.number("lr", options.lr);
  options.weight_decay = section.number("weight_decay", options.weight_decay);
  options.eps = section.number("eps", options.eps);
  options.amsgrad = section.boolean("amsgrad", options.amsgrad);
  if (section.has("betas")) {
    const std::vector<double> betas = section.numbers("betas", 2);
    for (size_t i = 0; i < 2; ++i)
      CNN_CHECK(betas[i] >= 0.0 && betas[i] < 1.0, section.item_path("betas", i),
                ": must be in [0, 1), got ", betas[i]);
    options.beta1 = betas[0];
    options.beta2 = betas[1];
  }
  check_at_least(section, "lr", options.lr, 0.0);
  check_at_least(section, "weight_decay", options.weight_decay, 0.0);
  check_at_least(section, "eps", options.eps, 0.0);
  std::vector<ParamGroup> groups = make_param_groups(model, options.weight_decay, exclude);
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
  const Section section(schedule, path);
  const std::string name =
      section.name("constant", "constant, step, multistep, exponential, cosine or onecycle");
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
  section.check_keys(schedule_keys(), name, used);
  CNN_CHECK(epochs <= std::numeric_limits<int64_t>::max() / steps_per_epoch, path, ": ", epochs,
            " epochs of ", steps_per_epoch, " steps is more steps than int64 counts");
  const int64_t total_steps = steps_per_epoch * epochs;

  std::unique_ptr<Schedule> out;
  if (name == "constant") {
    out = std::make_unique<ConstantSchedule>(base_lr);
  } else if (name == "step") {
    CNN_CHECK(section.has("step_size"), section.key_path("step_size"),
              ": this key is required for the step schedule (decay every this many epochs)");
    const int64_t step_size = section.integer("step_size", 0);
    CNN_CHECK(step_size > 0, section.key_path("step_size"), ": must be > 0 epochs, got ",
              step_size);
    const double gamma = section.number("gamma", 0.1);
    check_positive(section, "gamma", gamma);
    out = std::make_unique<StepSchedule>(base_lr, step_size, gamma, steps_per_epoch);
  } else if (name == "multistep") {
    CNN_CHECK(section.has("milestones"), section.key_path("milestones"),
              ": this key is required for the multistep schedule (epochs at which to decay)");
    const std::vector<int64_t> milestones = section.integers("milestones");
    for (size_t i = 0; i < milestones.size(); ++i) {
      CNN_CHECK(milestones[i] > 0, section.item_path("milestones", i),
                ": must be an epoch > 0, got ", milestones[i]);
      CNN_CHECK(i == 0 || milestones[i] > milestones[i - 1], section.item_path("milestones", i),
                ": milestones must increase, but ", milestones[i], " follows ", milestones[i - 1]);
    }
    const double gamma = section.number("gamma", 0.1);
    check_positive(section, "gamma", gamma);
    out = std::make_unique<MultiStepSchedule>(base_lr, milestones, gamma, steps_per_epoch);
  } else if (name == "exponential") {
    const double gamma = section.required_number(
        "gamma", "for the exponential schedule (the lr's factor per epoch)");
    check_positive(section, "gamma", gamma);
    out = std::make_unique<ExponentialSchedule>(base_lr, gamma, steps_per_epoch);
  } else if (name == "cosine") {
    const double eta_min = section.number("eta_min", 0.0);
    check_at_least(section, "eta_min", eta_min, 0.0);
    out = std::make_unique<CosineSchedule>(base_lr, total_steps, eta_min);
  } else {  // onecycle
    const double max_lr = section.number("max_lr", base_lr);
    const double pct_start = section.number("pct_start", 0.3);
    const double div_factor = section.number("div_factor", 25.0);
    const double final_div_factor = section.number("final_div_factor", 1e4);
    check_positive(section, "max_lr", max_lr);
    CNN_CHECK(pct_start > 0.0 && pct_start < 1.0, section.key_path("pct_start"),
              ": must be between 0 and 1 (exclusive), got ", pct_start);
    check_positive(section, "div_factor", div_factor);
    check_positive(section, "final_div_factor", final_div_factor);
    out = std::make_unique<OneCycleSchedule>(max_lr, total_steps, pct_start, div_factor,
                                             final_div_factor);
  }

  // Linear warmup, in epochs or in iterations.
  CNN_CHECK(!(section.has("warmup_epochs") && section.has("warmup_steps")),
            section.key_path("warmup_steps"), ": give warmup_epochs or warmup_steps, not both");
  int64_t warmup_steps = 0;
  std::string warmup_key = "warmup_steps";
  if (section.has("warmup_epochs")) {
    warmup_key = "warmup_epochs";
    const double warmup_epochs = section.number("warmup_epochs", 0.0);
    check_at_least(section, "warmup_epochs", warmup_epochs, 0.0);
    const double warmup = warmup_epochs * static_cast<double>(steps_per_epoch);
    // llround of a value past int64 is undefined; so long a warmup fails the check below.
    warmup_steps = warmup < 9.0e18 ? std::llround(warmup) : std::numeric_limits<int64_t>::max();
  } else {
    warmup_steps = section.integer("warmup_steps", 0);
    check_at_least(section, "warmup_steps", static_cast<double>(warmup_steps), 0.0);
  }
  CNN_CHECK(warmup_steps <= total_steps, section.key_path(warmup_key), ": the warmup (",
            warmup_steps, " steps) is longer than the run (", epochs, " epochs of ",
            steps_per_epoch, " steps = ", total_steps, " steps)");
  const bool has_start_factor = section.has("warmup_start_factor");
  const double start_factor = section.number("warmup_start_factor", 1.0 / 3.0);
  CNN_CHECK(start_factor >= 0.0 && start_factor <= 1.0, section.key_path("warmup_start_factor"),
            ": must be in [0, 1], got ", start_factor);
  CNN_CHECK(!has_start_factor || warmup_steps > 0, section.key_path("warmup_start_factor"),
            ": has no effect without warmup_epochs or warmup_steps");
  if (warmup_steps > 0)
    out = std::make_unique<WarmupSchedule>(std::move(out), warmup_steps, start_factor);
  return out;
}

}  // namespace cnn
