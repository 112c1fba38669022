// The training run (see trainer.h): set-up checked before the disk is touched, the run
// directory, the resume position, then epoch after epoch until the run ends.
#include "apps/trainer.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <optional>

#include "apps/bn_mode.h"
#include "apps/distributed.h"
#include "apps/epoch_loop.h"
#include "apps/model_setup.h"
#include "apps/run_logger.h"
#include "apps/signals.h"
#include "apps/store_url.h"
#include "core/conv_onednn.h"
#include "core/gemm.h"
#include "core/gemm_bf16.h"
#include "core/precision.h"
#include "core/safetensors.h"
#include "data/config.h"
#include "optim/factory.h"

namespace fs = std::filesystem;

namespace cnn {

namespace {

// Everything a run trains with, built and checked from the config before anything is written.
struct RunSetup {
  DataConfig data_config;
  std::shared_ptr<Sequential> model;
  std::unique_ptr<Optimizer> optimizer;
  Datasets datasets;
  std::unique_ptr<DataLoader> train_loader, test_loader;
  std::unique_ptr<DataLoader> statistics_loader;  // bn_mode reestimate only
  std::unique_ptr<Schedule> schedule;
  int64_t num_classes = 0;
};

// --init-from (the command line) or train.init_from: weights and BN statistics, nothing else.
void load_initial_weights(Sequential& model, const Config& config, const TrainOptions& options) {
  const std::string& key_value = config.train.init_from;
  CNN_CHECK(options.init_from.empty() || key_value.empty(), "--init-from '", options.init_from,
            "' and train.init_from '", key_value, "' both name initial weights; give one");
  const std::string path = options.init_from.empty() ? key_value : options.init_from;
  if (path.empty()) return;
  const std::string where = options.init_from.empty() ? "train.init_from" : "--init-from";
  CNN_CHECK(path.rfind("variant:", 0) != 0, where, ": '", path,
            "' names a variant of an experiment, which only cnnlab compare and cnnlab study "
            "resolve; for cnnlab train give the file (RUN/checkpoint.safetensors)");
  const std::string file = load_weights_from(model, path, where);
  spdlog::info("initial weights and BN statistics from {} (optimizer state and step not read)",
               file);
}

RunSetup build_run(const Config& config, const TrainOptions& options) {
  RunSetup s;
  apply_precision_setting(config.train.precision);
  s.data_config = parse_data_config(config.root["data"], "data");
  s.model = build_model_from_config(config, s.data_config);
  // A resumed run's own state replaces any initial weights, which need not exist any more.
  if (options.resume_dir.empty()) load_initial_weights(*s.model, config, options);
  apply_bn_mode(*s.model, config.train.bn_mode);  // before the optimizer: frozen BN stays out
  fuse_for_run(*s.model);
  s.optimizer = make_model_optimizer(config.root["optim"], *s.model, "optim");
  apply_thread_setting(threads_per_rank(config.train.threads));
  s.datasets = load_datasets(s.data_config);
  const Normalization& normalization = s.datasets.normalization;
  LoaderOptions train_options = loader_options(s.data_config, normalization, /*train=*/true);
  shard_for_rank(train_options);  // under mpirun: this rank's part of each global batch
  s.train_loader = std::make_unique<DataLoader>(s.datasets.train, train_options, config.seed);
  s.test_loader = std::make_unique<DataLoader>(
      s.datasets.test, loader_options(s.data_config, normalization, /*train=*/false), config.seed);
  const int64_t steps_per_epoch = s.train_loader->batches_per_epoch();
  CNN_CHECK(steps_per_epoch > 0, "data: the training set (", s.datasets.train.size(),
            " images) gives no batch of size ", s.data_config.batch_size,
            " (drop_last is on, or the set is empty)");
  s.schedule = make_schedule(config.root["schedule"], s.optimizer->base_lr(), steps_per_epoch,
                             config.train.epochs, "schedule");
  s.num_classes = static_cast<int64_t>(s.datasets.train.classes.size());
  // bn_mode reestimate: the training set in order without augmentation, whole on every rank
  // (so every process computes the same statistics).
  if (config.train.bn_mode == "reestimate")
    s.statistics_loader = std::make_unique<DataLoader>(
        s.datasets.train, loader_options(s.data_config, normalization, /*train=*/false),
        config.seed);
  return s;
}

// Where the run goes: --out, the resumed folder, or runs/<name>-<timestamp>.
std::string choose_run_dir(const Config& config, const TrainOptions& options) {
  if (!options.resume_dir.empty()) return options.resume_dir;
  if (!options.out_dir.empty()) return options.out_dir;
  return (fs::path("runs") / (config.name + "-" + timestamp_for_names())).string();
}

void create_run_dir(const std::string& run_dir, bool resuming) {
  if (!resuming)
    CNN_CHECK(!fs::exists(fs::path(run_dir) / kStateFile), "run directory '", run_dir,
              "' already holds a run; continue it with --resume ", run_dir,
              " or choose another --out");
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  CNN_CHECK(!ec, "cannot create run directory '", run_dir, "': ", ec.message());
}

std::string store_path(const std::string& run_dir, const TrainOptions& options) {
  const fs::path parent = fs::path(run_dir).parent_path();
  return choose_store_url(options.runs_db,
                          ((parent.empty() ? fs::path(".") : parent) / "runs.db").string());
}

// A run resumed at another world size: its position in global samples, as a batch of this
// one (exact when the samples divide; else the partly trained batch is repeated).
void resume_at_world_size(RunPosition& position, const DataLoader& loader) {
  const int64_t world = Distributed::world();
  if (position.world_size == world) return;
  const int64_t per_rank = loader.options().batch_size;
  const int64_t samples = position.batch * per_rank * position.world_size;
  const int64_t batch = std::min(samples / (per_rank * world), loader.batches_per_epoch());
  spdlog::info("resuming a run of {} processes on {}: batch {} of {} becomes batch {} ({} "
               "samples into the epoch)",
               position.world_size, world, position.batch, per_rank * position.world_size,
               batch, samples);
  position.batch = batch;
}

// A new or resumed run directory (rank 0): what a killed write left, and the config.
void start_run_dir(const std::string& run_dir, const Config& config, bool resuming) {
  // A SIGKILL during a checkpoint or summary write leaves its temporary file behind.
  for (const std::string& name : remove_stale_temporaries(run_dir))
    spdlog::info("removed '{}', left by a write that was interrupted", name);
  if (!resuming)
    write_text_file_atomically((fs::path(run_dir) / "config.yaml").string(),
                               to_yaml_string(config.root));
}

// Under mpirun: every rank checked against rank 0 and given its weights; null otherwise.
std::unique_ptr<DataParallel> start_data_parallel(RunSetup& setup, const Config& config) {
  if (!Distributed::active()) return nullptr;
  auto data_parallel = std::make_unique<DataParallel>(*setup.model, config);
  spdlog::info("data-parallel over {} ranks: global batch {} ({} per rank)",
               Distributed::world(), Distributed::world() * setup.data_config.batch_size,
               setup.data_config.batch_size);
  return data_parallel;
}

RecorderOptions recorder_options(const Config& config, const TrainOptions& options,
                                 const std::string& run_dir, const RunPosition& position) {
  return {.run_dir = run_dir,
          .store = store_path(run_dir, options),
          .store_optional = options.store_optional,
          .name = config.name,
          .config_yaml = to_yaml_string(config.root),
          .experiment = options.experiment,
          .variant = options.variant,
          .world_size = Distributed::world(),
          .layer_stats = config.train.layer_stats_every > 0,
          .resuming = !options.resume_dir.empty(),
          .run_id = position.run_id,
          .resume_step = position.step,
          .resume_epoch = position.epoch + 1};
}

void log_communication(const DataParallel& data_parallel) {
  const double steps = static_cast<double>(std::max<int64_t>(1, data_parallel.steps()));
  spdlog::info("data-parallel: {:.4f} s per step in the gradient allreduce ({} bytes), "
               "{:.4f} s of it not hidden behind the backward",
               data_parallel.communication_seconds() / steps, data_parallel.gradient_bytes(),
               data_parallel.exposed_communication_seconds() / steps);
}

// The run's row in the store is rank 0's; every rank keeps it in its position.
int64_t run_id_from_rank0(const std::optional<RunRecorder>& recorder) {
  int64_t id = recorder ? recorder->run_id() : -1;
  Distributed::broadcast(&id, sizeof(id));
  return id;
}

// The result's figures from the epochs finished so far.
void summarize(TrainResult& result, const std::vector<EpochRecord>& epochs,
               const RunPosition& position) {
  result.epochs = epochs;
  result.steps = position.step;
  result.best_test_acc = std::max(0.0, position.best_test_acc);
  result.collapsed = position.collapsed_step >= 0;
  result.collapsed_step = position.collapsed_step;
  result.collapse_reason = position.collapse_reason;
  if (epochs.empty()) return;
  double rate_sum = 0, step_sum = 0;
  for (const EpochRecord& r : epochs) {
    rate_sum += r.images_per_s;
    step_sum += r.step_seconds;
  }
  result.final_test_acc = epochs.back().test_acc;
  result.train_images_per_s = rate_sum / epochs.size();
  result.mean_step_seconds = step_sum / epochs.size();
}

// A collapse counts from the first of the evaluations that have all found it; training goes on.
void track_collapse(RunPosition& position, const std::string& collapse) {
  if (collapse.empty()) {
    position.collapsed_step = -1;
    position.collapse_reason.clear();
  } else if (position.collapsed_step < 0) {
    position.collapsed_step = position.step;
    position.collapse_reason = collapse;
    spdlog::warn("the network collapsed by step {}: {}; training goes on", position.step,
                 collapse);
  }
}

void log_epoch(const EpochRecord& r, int64_t epochs) {
  spdlog::info(
      "epoch {}/{}: train loss {:.4f} acc {:.4f} | test loss {:.4f} acc {:.4f} | {:.1f}s, "
      "{:.0f} img/s",
      r.epoch, epochs, r.train_loss, r.train_acc, r.test_loss, r.test_acc, r.seconds,
      r.images_per_s);
}

// Epochs until the last, a divergence, a stop signal or max_steps; returns the status.
std::string run_epochs(TrainingParts& parts, RunPosition& position, RunRecorder* recorder,
                       std::vector<EpochRecord>& epochs, TrainResult& result,
                       const std::string& run_dir) {
  const TrainSettings& settings = parts.settings;
  const int64_t steps_per_epoch = parts.train_loader.batches_per_epoch();
  while (position.epoch < settings.epochs) {
    EpochOutcome outcome = train_epoch(parts, position, recorder);
    if (outcome.end == EpochOutcome::End::kDiverged) {
      result.diverged = true;
      result.diverged_step = outcome.diverged_step;
      result.diverged_reason = outcome.divergence;
      return "diverged";
    }
    if (outcome.end == EpochOutcome::End::kInterrupted) {
      spdlog::warn(
          "stopped by signal {} at step {}; checkpoint written. Resume with:\n  cnnlab train "
          "--resume {}",
          stop_signal(), position.step, run_dir);
      clear_stop_request();
      return "interrupted";
    }
    epochs.push_back(outcome.record);
    if (recorder) recorder->on_epoch(outcome.record);
    log_epoch(outcome.record, settings.epochs);
    track_collapse(position, outcome.collapse);
    // A max_steps stop inside the epoch keeps its position (and the epoch's sums), so a
    // resume with max_steps lifted continues with the epoch's remaining batches.
    const bool epoch_done = position.batch >= steps_per_epoch;
    if (epoch_done) {
      ++position.epoch;
      position.batch = 0;
      position.sums = EpochSums{};
    }
    const bool improved = outcome.record.test_acc > position.best_test_acc;
    if (improved) position.best_test_acc = outcome.record.test_acc;
    parts.save_checkpoint();
    if (recorder) recorder->on_checkpoint(kCheckpointFile, position.step);
    if (improved && Distributed::rank() == 0) {
      save_safetensors((fs::path(run_dir) / kBestFile).string(), parts.model.state_dict(),
                       {{"format", "pt"}});
      if (recorder) recorder->on_checkpoint(kBestFile, position.step);
    }
    if (outcome.end == EpochOutcome::End::kOutOfSteps || !epoch_done) break;
  }
  return "completed";
}

}  // namespace

TrainResult train_run(const Config& input_config, const TrainOptions& options) {
  const Config config = input_config;
  const bool resuming = !options.resume_dir.empty();
  RunSetup setup = build_run(config, options);

  // Under mpirun rank 0 writes the run directory, the store and the console; the others
  // log to rank<k>.log there (the name, a timestamp, is rank 0's).
  const int rank = Distributed::rank();
  const std::string run_dir = Distributed::broadcast(choose_run_dir(config, options));
  if (rank == 0) create_run_dir(run_dir, resuming);
  Distributed::barrier();
  RunLogger logger(
      (fs::path(run_dir) / (rank == 0 ? "train.log" : "rank" + std::to_string(rank) + ".log"))
          .string(),
      options.quiet || rank != 0);
  if (rank == 0) start_run_dir(run_dir, config, resuming);

  const DropoutLayers dropouts = find_dropout_layers(*setup.model);
  RunPosition position;
  if (resuming) {
    position = load_run_state(run_dir, *setup.model, *setup.optimizer, dropouts);
    spdlog::info("resuming '{}' at epoch {}, batch {} (step {})", run_dir, position.epoch + 1,
                 position.batch, position.step);
    resume_at_world_size(position, *setup.train_loader);
  }
  position.world_size = Distributed::world();
  std::unique_ptr<DataParallel> data_parallel = start_data_parallel(setup, config);
  std::optional<RunRecorder> recorder;
  if (rank == 0) recorder.emplace(recorder_options(config, options, run_dir, position));
  position.run_id = Distributed::active() ? run_id_from_rank0(recorder) : recorder->run_id();
  std::vector<EpochRecord> epochs;
  if (recorder) epochs = recorder->earlier_epochs();

  TrainResult result;
  result.run_dir = run_dir;
  result.parameter_count = setup.model->parameter_count();
  result.world_size = Distributed::world();
  spdlog::info("run '{}' in {}: {} parameters, {} training / {} test images, {} steps per epoch",
               config.name, run_dir, result.parameter_count, setup.datasets.train.size(),
               setup.datasets.test.size(), setup.train_loader->batches_per_epoch());
  spdlog::info("{}", describe_kernels());
  if (compute_precision() == Precision::bf16)
    spdlog::info("precision bf16: convolutions (oneDNN's bf16 convolutions, im2col where oneDNN "
                 "has no kernel) and linear layers on bf16 operands with fp32 sums, the {} path",
                 bf16_path_name(bf16_path()));
  if (!kernel_warning().empty()) spdlog::warn("{}", kernel_warning());

  std::unique_ptr<LayerStatsRecorder> layer_stats;
  if (config.train.layer_stats_every > 0) layer_stats = std::make_unique<LayerStatsRecorder>();
  TrainingParts parts{*setup.model,       *setup.optimizer,  *setup.schedule,
                      *setup.train_loader, *setup.test_loader, setup.num_classes,
                      config.train,        options.quiet || rank != 0, layer_stats.get(),
                      [&] {
                        if (rank == 0)
                          save_run_state(run_dir, *setup.model, *setup.optimizer, dropouts,
                                         position);
                      },
                      data_parallel.get(), setup.statistics_loader.get()};
  install_stop_handlers();
  // An exception from here on (a full disk, an unreadable batch) ends the run as "failed",
  // recorded as far as the disk still allows, and is then rethrown unchanged: the caller's
  // message and exit status are the original error's.
  try {
    result.status = run_epochs(parts, position, recorder ? &*recorder : nullptr, epochs, result,
                               run_dir);
    if (!describe_onednn_conv_kernels().empty())
      spdlog::info("{}", describe_onednn_conv_kernels());
    summarize(result, epochs, position);
    if (data_parallel) log_communication(*data_parallel);
    if (recorder) recorder->on_finish(result);
    return result;
  } catch (const std::exception& e) {
    summarize(result, epochs, position);
    logger.error_to_file("the run failed at step " + std::to_string(position.step) + ": " +
                         e.what());
    if (recorder)
      recorder->on_failure(result, e.what(),
                           [&](const std::string& m) { logger.error_to_file(m); });
    throw;
  }
}

}  // namespace cnn
