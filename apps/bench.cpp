// Synthetic-input benchmark of a config's model.
#include "apps/bench.h"

#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/bench_kernels.h"
#include "apps/bench_numerics.h"
#include "apps/model_setup.h"
#include "apps/run_files.h"
#include "apps/distributed.h"
#include "apps/train_step.h"
#include "core/autograd.h"
#include "core/conv_onednn.h"
#include "core/gemm.h"
#include "core/gemm_bf16.h"
#include "core/precision.h"
#include "core/tensor_memory.h"
#include "data/config.h"
#include "layers/conv2d.h"
#include "layers/fold_batchnorm.h"
#include "layers/fusion.h"
#include "layers/linear.h"
#include "core/loss.h"
#include "optim/factory.h"

namespace cnn {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // kilobytes on Linux
}

// Forward multiply-adds x2 of a layer for one batch (convolutions and linear layers).
double layer_forward_flops(Module& layer, const Shape& input, const Shape& output) {
  if (auto* conv = dynamic_cast<Conv2d*>(&layer)) {
    const Conv2dOptions& o = conv->options();
    return 2.0 * shape_numel(output) * (o.in_channels / o.groups) * o.kernel_size.first *
           o.kernel_size.second;
  }
  if (layer.type() == "linear") return 2.0 * shape_numel(output) * input.back();
  return 0.0;
}

// The machine's sgemm rate with the current threads (1024^3, median of 7 after a warm-up):
// the reference the per-layer convolution rates are read against.
double sgemm_gflops() {
  const int64_t n = 1024;
  std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n);
  std::vector<double> seconds;
  for (int run = 0; run < 8; ++run) {
    Clock::time_point t = Clock::now();
    sgemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    if (run > 0) seconds.push_back(since(t));
  }
  return 2.0 * n * n * n / median(seconds) / 1e9;
}

struct LayerTiming {
  std::string name;
  double forward = 0, backward = 0, flops = 0;
};

struct StepTimes {
  double peak_rss_mb = 0;
  double peak_tensor_mb = 0;  // of one training step: tensors and oneDNN's operand buffers
  std::vector<double> steps;
  std::vector<LayerTiming> layers;
};

// A synthetic batch of the config's input shape: N(0,1) images, uniform labels.
Batch synthetic_batch(const DataConfig& data, int64_t batch, int64_t classes, uint64_t seed) {
  Shape input = model_input_shape(data);
  input[0] = batch;
  Generator gen(seed);
  Batch result{randn(input, gen), Tensor()};
  std::vector<int64_t> label_values(batch);
  for (int64_t i = 0; i < batch; ++i) label_values[i] = gen.randint(0, classes);
  result.labels = Tensor::from_int64({batch}, label_values);
  return result;
}

// A model with what a run trains it with: its optimizer, schedule and step options (label
// smoothing, clipping, the NaN check), so that bench times the step `cnnlab train` takes.
struct Trainee {
  std::shared_ptr<Sequential> model;
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<Schedule> schedule;
  TrainStepOptions options;
  int64_t step = 0;
  std::shared_ptr<DataParallel> parallel;  // under mpirun: the gradients averaged over ranks
  void train_step(const Batch& batch) {
    TrainStepHooks hooks;
    const int64_t n = batch.labels.numel();
    if (parallel) parallel->wrap(hooks, n, n * Distributed::world());
    TrainStepResult result =
        cnn::train_step(*model, *optimizer, schedule.get(), step++, batch, options, hooks);
    if (parallel) parallel->finish_step(result);
  }
};

// The schedule runs as if the timed steps were the config's whole run.
Trainee make_trainee(const Config& config, const DataConfig& data, int64_t steps) {
  Trainee t;
  t.model = build_model_from_config(config, data);
  fuse_for_run(*t.model);
  t.optimizer = make_model_optimizer(config.root["optim"], *t.model, "optim");
  const int64_t epochs = std::max<int64_t>(1, config.train.epochs);
  t.schedule = make_schedule(config.root["schedule"], t.optimizer->base_lr(),
                             std::max<int64_t>(1, steps / epochs + 1), epochs, "schedule");
  t.options = {static_cast<float>(config.train.label_smoothing), config.train.clip_grad_norm,
               config.train.nan_check == "every_step"};
  t.model->train();
  if (Distributed::active()) t.parallel = std::make_shared<DataParallel>(*t.model, config);
  return t;
}

int64_t warmup_steps(int64_t steps) { return std::max<int64_t>(2, steps / 10); }

// Times `steps` training steps as a run takes them (Sequential's fusions on), then fills the
// per-layer table from further steps run layer by layer (unfused), each layer's forward
// timed directly and its backward through identity markers whose backward fires when the
// gradient reaches that layer.
StepTimes time_training(Trainee& trainee, const Batch& batch, int64_t warmup, int64_t steps) {
  Sequential& model = *trainee.model;
  Optimizer& optimizer = *trainee.optimizer;
  const Tensor& images = batch.images;
  const Tensor& labels = batch.labels;
  StepTimes times;
  model.train();
  for (int64_t step = 0; step < warmup + steps; ++step) {
    if (step == warmup) reset_tensor_memory_peak();
    Clock::time_point step_start = Clock::now();
    trainee.train_step(batch);
    if (step >= warmup) times.steps.push_back(since(step_start));
  }
  times.peak_tensor_mb = tensor_memory_peak() / 1048576.0;
  times.peak_rss_mb = peak_rss_mb();  // training as a run does it (the table's steps keep
                                      // every layer's output: more)
  steps = std::max<int64_t>(5, steps / 2);  // for the table
  size_t count = model.size();
  times.layers.resize(count);
  std::vector<std::vector<double>> forward(count), backward(count);
  std::vector<Clock::time_point> reached(count + 1);
  Shape shape = images.shape();
  for (size_t i = 0; i < count; ++i) {
    Shape out = model.at(i)->output_shape(shape);
    times.layers[i].name = std::to_string(i) + "." + model.at(i)->describe();
    times.layers[i].flops = layer_forward_flops(*model.at(i), shape, out);
    shape = out;
  }
  for (int64_t step = 0; step < warmup + steps; ++step) {
    Tensor x = images;
    for (size_t i = 0; i < count; ++i) {
      Clock::time_point t = Clock::now();
      x = model.at(i)->forward(x);
      forward[i].push_back(since(t));
      CustomOp marker{"bench_marker", [](const std::vector<Tensor>& in) { return in[0].detach(); },
                      [&reached, i](const std::vector<Tensor>&, const Tensor&, const Tensor& g) {
                        reached[i] = Clock::now();
                        return std::vector<Tensor>{g};
                      }};
      if (x.requires_grad()) x = marker({x});
    }
    Tensor loss = cross_entropy(x, labels);
    optimizer.zero_grad();
    Clock::time_point backward_start = Clock::now();
    loss.backward();
    Clock::time_point backward_end = Clock::now();
    // Layer i's backward runs between reaching its output marker and the previous one's.
    for (size_t i = 0; i < count; ++i) {
      Clock::time_point end = i == 0 ? backward_end : reached[i - 1];
      Clock::time_point begin = reached[i];
      if (begin < backward_start) begin = backward_start;
      backward[i].push_back(std::max(0.0, std::chrono::duration<double>(end - begin).count()));
    }
    optimizer.step();
    std::fill(reached.begin(), reached.end(), backward_start);
  }
  for (size_t i = 0; i < count; ++i) {
    std::vector<double> f(forward[i].begin() + warmup, forward[i].end());
    std::vector<double> b(backward[i].begin() + warmup, backward[i].end());
    times.layers[i].forward = median(f);
    times.layers[i].backward = median(b);
  }
  return times;
}

double time_eval(Sequential& model, const Tensor& images, int64_t warmup, int64_t steps) {
  NoGradGuard no_grad;
  model.eval();
  std::vector<double> seconds;
  for (int64_t step = 0; step < warmup + steps; ++step) {
    Clock::time_point t = Clock::now();
    model.forward(images);
    if (step >= warmup) seconds.push_back(since(t));
  }
  model.train();
  return median(seconds);
}

struct BenchResult {
  double train_step = 0, eval_step = 0, eval_folded_step = 0;
  double communication_step = 0;  // under mpirun: the gradient allreduce's mean per step
  double exposed_step = 0;        // the part of it the step waited for after backward
  int64_t gradient_bytes = 0;
  StepTimes detail;
};

BenchResult bench_once(const Config& config, const DataConfig& data, int64_t batch, int64_t steps) {
  const int64_t warmup = warmup_steps(steps);
  Trainee trainee = make_trainee(config, data, warmup + steps);
  std::shared_ptr<Sequential> model = trainee.model;
  Shape input = model_input_shape(data);
  input[0] = batch;
  const Batch synthetic =
      synthetic_batch(data, batch, model->output_shape(input).back(), config.seed);
  BenchResult result;
  result.detail = time_training(trainee, synthetic, warmup, steps);
  result.train_step = median(result.detail.steps);
  if (trainee.parallel) {
    result.communication_step =
        trainee.parallel->communication_seconds() / std::max<int64_t>(1, trainee.parallel->steps());
    result.gradient_bytes = trainee.parallel->gradient_bytes();
    result.exposed_step = trainee.parallel->exposed_communication_seconds() /
                          std::max<int64_t>(1, trainee.parallel->steps());
  }
  result.eval_step = time_eval(*model, synthetic.images, warmup, steps);
  model->eval();
  fold_batchnorm(*model);
  fuse_for_evaluation(*model);
  result.eval_folded_step = time_eval(*model, synthetic.images, warmup, steps);
  return result;
}

// The GEMM shapes of one training step and one evaluation of the config's model.
std::vector<GemmShape> model_gemm_shapes(const Config& config, const DataConfig& data,
                                         int64_t batch) {
  Trainee trainee = make_trainee(config, data, 1);
  Shape input = model_input_shape(data);
  input[0] = batch;
  const Batch synthetic =
      synthetic_batch(data, batch, trainee.model->output_shape(input).back(), config.seed);
  start_recording_gemm_shapes();
  trainee.train_step(synthetic);
  time_eval(*trainee.model, synthetic.images, 0, 1);
  return stop_recording_gemm_shapes();
}

// The config's model against the same model with model.norm: none, training steps taken
// in turns (A B, B A, A B, ...) so that both see the same machine: a busy neighbour slows
// both, not one of the two runs. Returns the median step times (normalized, plain) and
// the median of the two steps' ratio over the pairs (A B or B A), the overhead's estimate
// least moved by the machine's bursts.
struct NormAgainstPlain {
  double norm_step = 0, plain_step = 0, ratio = 1;
};

NormAgainstPlain time_norm_against_plain(const Config& config, const DataConfig& data,
                                                  int64_t batch, int64_t steps) {
  Config plain = config;
  plain.root = YAML::Clone(config.root);
  set_dotted(plain.root, "model.norm", YAML::Node("none"), false, "bench");
  const int64_t warmup = warmup_steps(steps);
  struct Variant {
    Trainee trainee;
    std::vector<double> seconds;
  };
  Variant variants[2] = {{make_trainee(config, data, warmup + steps), {}},
                         {make_trainee(plain, data, warmup + steps), {}}};
  Shape input = model_input_shape(data);
  input[0] = batch;
  const Batch synthetic = synthetic_batch(
      data, batch, variants[0].trainee.model->output_shape(input).back(), config.seed);
  for (int64_t step = 0; step < warmup + steps; ++step)
    for (int turn = 0; turn < 2; ++turn) {  // A B, B A, A B, ...: neither always goes first
      Variant& v = variants[(step + turn) % 2];
      Clock::time_point t = Clock::now();
      v.trainee.train_step(synthetic);
      if (step >= warmup) v.seconds.push_back(since(t));
    }
  std::vector<double> ratios;
  for (size_t i = 0; i < variants[0].seconds.size(); ++i)
    ratios.push_back(variants[0].seconds[i] / variants[1].seconds[i]);
  return {median(variants[0].seconds), median(variants[1].seconds), median(ratios)};
}

// Each layer's forward and backward time, rate and share of sgemm's rate.
void print_layer_table(const std::vector<LayerTiming>& layers, double sgemm_rate) {
  std::printf("  %-56s %9s %9s %9s %9s %6s %6s\n", "layer", "fwd ms", "bwd ms", "fwd GF/s",
              "bwd GF/s", "fwd %", "bwd %");
  double total_f = 0, total_b = 0;
  for (const LayerTiming& l : layers) {
    total_f += l.forward;
    total_b += l.backward;
    std::string name = l.name.size() > 56 ? l.name.substr(0, 53) + "..." : l.name;
    if (l.flops > 0) {
      const double forward_rate = l.flops / l.forward / 1e9;
      const double backward_rate = 2 * l.flops / l.backward / 1e9;
      std::printf("  %-56s %9.2f %9.2f %9.1f %9.1f %6.0f %6.0f\n", name.c_str(), l.forward * 1000,
                  l.backward * 1000, forward_rate, backward_rate,
                  100 * forward_rate / sgemm_rate, 100 * backward_rate / sgemm_rate);
    } else {
      std::printf("  %-56s %9.2f %9.2f\n", name.c_str(), l.forward * 1000, l.backward * 1000);
    }
  }
  std::printf("  %-56s %9.2f %9.2f\n", "total (layers)", total_f * 1000, total_b * 1000);
}

// A training step's time at batch 32..256 on 1 and 2 threads.
void print_scaling(const Config& config, const DataConfig& data, int64_t steps) {
  std::printf("\n  scaling (training step, ms):\n  %8s %12s %12s\n", "batch", "1 thread", "2 threads");
  for (int64_t b : {32, 64, 128, 256}) {
    double ms[2];
    for (int t = 1; t <= 2; ++t) {
      apply_thread_setting(t);
      ms[t - 1] = bench_once(config, data, b, std::max<int64_t>(5, steps / 2)).train_step * 1000;
    }
    std::printf("  %8ld %12.1f %12.1f\n", (long)b, ms[0], ms[1]);
  }
}

}  // namespace

int run_bench(const Config& config, const BenchOptions& options) {
  DataConfig data = parse_data_config(config.root["data"], "data");
  int64_t batch = options.batch > 0 ? options.batch : data.batch_size;
  int64_t threads = options.threads > 0 ? options.threads : config.train.threads;
  apply_thread_setting(threads_per_rank(threads));  // under mpirun: the node shared
  apply_precision_setting(config.train.precision);
  const bool bf16 = compute_precision() == Precision::bf16;
  BenchResult r = bench_once(config, data, batch, options.steps);
  const double sgemm_rate = sgemm_gflops();
  NormAgainstPlain norm_plain;
  if (options.norm_overhead)  // twice the steps: the overhead is a small difference
    norm_plain = time_norm_against_plain(config, data, batch, 2 * options.steps);
  const double norm_overhead = norm_plain.ratio - 1;
  std::vector<KernelTiming> kernel_rows;
  std::vector<Bf16KernelTiming> bf16_rows;
  if (options.kernels && bf16)
    bf16_rows = time_bf16_gemm_shapes(model_gemm_shapes(config, data, batch), 16, 5);
  else if (options.kernels)
    kernel_rows = time_gemm_shapes(model_gemm_shapes(config, data, batch), 16, 5);
  // Each convolution path's error against double precision, on the model's shapes (4 images).
  const auto numerics = measure_conv_numerics(*build_model_from_config(config, data),
                                              model_input_shape(data), 4);
  double train_ips = batch / r.train_step, eval_ips = batch / r.eval_step,
         folded_ips = batch / r.eval_folded_step;
  if (options.json) {
    nlohmann::ordered_json out;
    out["name"] = config.name;
    out["batch"] = batch;
    out["threads"] = omp_get_max_threads();
    out["train_images_per_s"] = train_ips;
    out["eval_images_per_s"] = eval_ips;
    out["eval_folded_images_per_s"] = folded_ips;
    out["median_step_ms"] = r.train_step * 1000;
    if (Distributed::active()) {
      out["ranks"] = Distributed::world();
      out["communication_step_ms"] = r.communication_step * 1000;
      out["exposed_communication_step_ms"] = r.exposed_step * 1000;
      out["gradient_bytes"] = r.gradient_bytes;
    }
    out["peak_rss_mb"] = r.detail.peak_rss_mb;
    out["peak_tensor_mb"] = r.detail.peak_tensor_mb;
    out["sgemm_gflops"] = sgemm_rate;
    out["kernels"] = describe_kernels();
    out["precision"] = precision_name(compute_precision());
    if (!kernel_warning().empty()) out["kernel_warning"] = kernel_warning();
    if (!describe_onednn_conv_kernels().empty())
      out["onednn_conv_kernels"] = describe_onednn_conv_kernels();
    if (options.kernels)
      out["gemm_shapes"] =
          bf16 ? bf16_kernel_table_json(bf16_rows) : kernel_table_json(kernel_rows);
    if (options.norm_overhead) {
      out["norm_step_ms"] = norm_plain.norm_step * 1000;
      out["plain_step_ms"] = norm_plain.plain_step * 1000;
      out["norm_overhead_percent"] = 100 * norm_overhead;
    }
    out["conv_numerics"] = conv_numerics_json(numerics);
    std::printf("%s", json_text(out).c_str());
    return 0;
  }
  std::printf("%s: batch %ld, %d threads, %ld timed steps (medians), precision %s\n",
              config.name.c_str(), (long)batch, omp_get_max_threads(), (long)options.steps,
              precision_name(compute_precision()));
  std::printf("  training:            %8.1f images/s   (step %.2f ms)\n", train_ips, r.train_step * 1000);
  if (Distributed::active())
    std::printf("  data-parallel:       %d ranks x batch %ld: per step %.2f ms compute, %.2f ms "
                "gradient allreduce (%ld bytes) of which %.2f ms not hidden behind the "
                "backward (overlap %.0f%%), %.1f global images/s\n",
                Distributed::world(), (long)batch, (r.train_step - r.exposed_step) * 1000,
                r.communication_step * 1000, (long)r.gradient_bytes, r.exposed_step * 1000,
                r.communication_step > 0 ? 100 * (1 - r.exposed_step / r.communication_step) : 0.0,
                Distributed::world() * train_ips);
  std::printf("  evaluation:          %8.1f images/s\n", eval_ips);
  std::printf("  evaluation, BN folded:%7.1f images/s\n", folded_ips);
  std::printf("  peak resident memory: %.0f MB (training); tensors at a step's peak: %.0f MB\n",
              r.detail.peak_rss_mb, r.detail.peak_tensor_mb);
  std::printf("  sgemm (1024^3):       %8.1f GFLOP/s, the 100%% of the table's last columns\n",
              sgemm_rate);
  std::printf("  %s\n", describe_kernels().c_str());
  if (!describe_onednn_conv_kernels().empty())
    std::printf("  %s\n", describe_onednn_conv_kernels().c_str());
  if (!kernel_warning().empty()) std::printf("  warning: %s\n", kernel_warning().c_str());
  if (options.norm_overhead)
    std::printf("  normalization's cost: %+.1f%% of the step (median ratio of steps taken in "
                "turns with model.norm: none; median steps %.2f and %.2f ms)\n",
                100 * norm_overhead, norm_plain.norm_step * 1000, norm_plain.plain_step * 1000);
  std::printf("\n");
  print_layer_table(r.detail.layers, sgemm_rate);
  if (options.kernels && bf16) print_bf16_kernel_table(bf16_rows);
  if (options.kernels && !bf16) print_kernel_table(kernel_rows);
  print_conv_numerics(numerics);
  if (options.scaling) print_scaling(config, data, options.steps);
  return 0;
}

}  // namespace cnn
