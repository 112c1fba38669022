// The training loop and its run directory (see trainer.h).
#include "apps/trainer.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "apps/evaluate.h"
#include "apps/layer_stats.h"
#include "apps/model_setup.h"
#include "apps/progress.h"
#include "apps/run_store.h"
#include "apps/signals.h"
#include "core/autograd.h"
#include "core/safetensors.h"
#include "data/config.h"
#include "layers/dropout.h"
#include "layers/loss.h"
#include "optim/clip_grad.h"
#include "optim/factory.h"

namespace fs = std::filesystem;

namespace cnn {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Where the run goes: --out, the resumed folder, or runs/<name>-<timestamp>.
std::string choose_run_dir(const Config& config, const TrainOptions& options) {
  if (!options.resume_dir.empty()) return options.resume_dir;
  if (!options.out_dir.empty()) return options.out_dir;
  return (fs::path("runs") / (config.name + "-" + timestamp_for_names())).string();
}

// A logger writing to the console and to train.log, installed for the run's duration.
class RunLogger {
 public:
  RunLogger(const std::string& log_path, bool quiet) : previous_(spdlog::default_logger()) {
    file_ = std::make_shared<spdlog::sinks::basic_file_sink_mt>(log_path, false);
    std::vector<spdlog::sink_ptr> sinks{file_};
    if (!quiet) sinks.push_back(std::make_shared<spdlog::sinks::stdout_color_sink_mt>());
    auto logger = std::make_shared<spdlog::logger>("cnnlab", sinks.begin(), sinks.end());
    logger->set_pattern("[%Y-%m-%d %H:%M:%S] [%l] %v");
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  ~RunLogger() { spdlog::set_default_logger(previous_); }

  // An error for train.log alone: the console gets it from main's "cnnlab: error:" line.
  void error_to_file(const std::string& message) noexcept {
    try {
      spdlog::logger file_only("cnnlab", file_);
      file_only.set_pattern("[%Y-%m-%d %H:%M:%S] [%l] %v");
      file_only.set_error_handler([](const std::string&) {});  // a full disk: stay silent
      file_only.error("{}", message);
      file_only.flush();
    } catch (...) {
      // train.log may be on the disk that just failed: nothing more to do.
    }
  }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<spdlog::sinks::basic_file_sink_mt> file_;
};

bool all_finite(const Tensor& t) {
  if (t.dtype() != DType::Float32) return true;
  Tensor c = t.contiguous();
  const float* p = c.data();
  for (int64_t i = 0; i < c.numel(); ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}

std::vector<NamedTensor> with_prefix(const std::vector<NamedTensor>& tensors,
                                     const std::string& prefix) {
  std::vector<NamedTensor> out;
  for (const auto& [name, t] : tensors) out.emplace_back(prefix + name, t);
  return out;
}

std::vector<NamedTensor> strip_prefix(const std::vector<NamedTensor>& tensors,
                                      const std::string& prefix) {
  std::vector<NamedTensor> out;
  for (const auto& [name, t] : tensors)
    if (name.rfind(prefix, 0) == 0) out.emplace_back(name.substr(prefix.size()), t);
  return out;
}

// ---- Dropout generators in state.safetensors. ------------------------------------------------
// Each Dropout layer draws its masks from its own Generator; resume is exact only if their
// states cross the checkpoint too. Each is saved as "rng.<module path>.dropout", an int64
// tensor of the numbers of the mt19937_64's text form (312 state words, then libstdc++'s
// position in them), unsigned 64-bit values stored bit for bit; it lies beside
// the "model." and "optimizer." tensors, so no name can collide.
using DropoutLayers = std::vector<std::pair<std::string, Dropout*>>;

void collect_dropouts(Module& module, const std::string& path, DropoutLayers& out) {
  if (auto* layer = dynamic_cast<Dropout*>(&module)) out.emplace_back(path, layer);
  for (const auto& [name, child] : module.children())
    collect_dropouts(*child, path.empty() ? name : path + "." + name, out);
}

std::string dropout_state_name(const std::string& path) { return "rng." + path + ".dropout"; }

Tensor generator_state_tensor(const Generator& generator) {
  std::istringstream in(generator.state());
  std::vector<int64_t> words;
  for (uint64_t word; in >> word;) words.push_back(static_cast<int64_t>(word));
  return Tensor::from_int64({static_cast<int64_t>(words.size())}, words);
}

void restore_generator(Generator& generator, const Tensor& words, const std::string& where) {
  CNN_CHECK(words.dtype() == DType::Int64 && words.dim() == 1, where,
            ": expected a 1-D int64 tensor of generator state words, found ",
            shape_str(words.shape()));
  std::ostringstream text;
  for (int64_t word : words.to_int64_vector()) text << static_cast<uint64_t>(word) << ' ';
  try {
    generator.set_state(text.str());
  } catch (const Error& e) {
    CNN_FAIL(where, ": ", e.what());
  }
}

// Restores every dropout generator from `state` (the tensors of state.safetensors). A state
// written before generators were saved has none: the run resumes, with a warning that its
// dropout masks will differ from an uninterrupted run's.
void restore_dropout_generators(const DropoutLayers& dropouts,
                                const std::vector<NamedTensor>& state,
                                const std::string& state_path) {
  std::map<std::string, const Tensor*> saved;
  for (const auto& [name, t] : state)
    if (name.rfind("rng.", 0) == 0) saved[name] = &t;
  for (const auto& [path, layer] : dropouts) {
    const std::string name = dropout_state_name(path);
    auto it = saved.find(name);
    if (it == saved.end()) {
      spdlog::warn(
          "{} has no '{}': dropout layer '{}' continues with fresh random masks, so the "
          "resumed run will not match an uninterrupted one exactly",
          state_path, name, path);
      continue;
    }
    restore_generator(layer->generator(), *it->second, state_path + ": '" + name + "'");
    saved.erase(it);
  }
  CNN_CHECK(saved.empty(), state_path, ": '", saved.empty() ? "" : saved.begin()->first,
            "' is the state of a dropout layer this model does not have (was config.yaml's "
            "model changed?)");
}

// Running sums of the current epoch's training batches.
struct EpochSums {
  int64_t images = 0, correct = 0, steps = 0;
  double loss_sum = 0.0, step_seconds = 0.0;
  double loop_seconds = 0.0;  // wall time of the training loop, waiting for data included
};

}  // namespace

TrainResult train_run(const Config& input_config, const TrainOptions& options) {
  Config config = input_config;
  const bool resuming = !options.resume_dir.empty();
  const TrainSettings& settings = config.train;

  // ---- 1. Check everything that can be checked before touching the disk. --------------
  DataConfig data_config = parse_data_config(config.root["data"], "data");
  std::shared_ptr<Sequential> model = build_model_from_config(config, data_config);
  std::unique_ptr<Optimizer> optimizer = make_model_optimizer(config.root["optim"], *model, "optim");
  apply_thread_setting(settings.threads);

  std::vector<NamedTensor> init_weights;
  if (!options.init_from.empty()) {
    init_weights = load_safetensors(options.init_from).tensors;
    try {
      model->load_state_dict(init_weights, true);
    } catch (const Error& e) {
      CNN_FAIL("--init-from '", options.init_from, "': ", e.what());
    }
  }

  Datasets datasets = load_datasets(data_config);
  DataLoader train_loader(datasets.train,
                          loader_options(data_config, datasets.normalization, /*train=*/true),
                          config.seed);
  DataLoader test_loader(datasets.test,
                         loader_options(data_config, datasets.normalization, /*train=*/false),
                         config.seed);
  const int64_t steps_per_epoch = train_loader.batches_per_epoch();
  CNN_CHECK(steps_per_epoch > 0, "data: the training set (", datasets.train.size(),
            " images) gives no batch of size ", data_config.batch_size,
            " (drop_last is on, or the set is empty)");
  std::unique_ptr<Schedule> schedule = make_schedule(config.root["schedule"], optimizer->base_lr(),
                                                     steps_per_epoch, settings.epochs, "schedule");
  const int64_t num_classes = static_cast<int64_t>(datasets.train.classes.size());

  // ---- 2. The run directory. ------------------------------------------------------------
  const std::string run_dir = choose_run_dir(config, options);
  const fs::path dir(run_dir);
  if (!resuming) {
    CNN_CHECK(!fs::exists(dir / kStateFile), "run directory '", run_dir,
              "' already holds a run; continue it with --resume ", run_dir,
              " or choose another --out");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  CNN_CHECK(!ec, "cannot create run directory '", run_dir, "': ", ec.message());
  RunLogger logger((dir / "train.log").string(), options.quiet);
  // A SIGKILL during a checkpoint or summary write leaves its temporary file behind.
  for (const std::string& name : remove_stale_temporaries(run_dir))
    spdlog::info("removed '{}', left by a write that was interrupted", name);
  if (!resuming)
    write_text_file_atomically((dir / "config.yaml").string(), to_yaml_string(config.root));

  // ---- 3. Resume position. ----------------------------------------------------------------
  DropoutLayers dropouts;
  collect_dropouts(*model, "", dropouts);
  int64_t start_epoch = 0, start_batch = 0, step = 0;
  double best_test_acc = -1.0;
  EpochSums sums;
  std::vector<EpochRecord> history;
  if (resuming) {
    const fs::path state_path = dir / kStateFile;
    CNN_CHECK(fs::exists(state_path), "--resume '", run_dir, "': no ", kStateFile,
              " there (the run never reached its first checkpoint); start it again instead");
    SafetensorsFile state = load_safetensors(state_path.string());
    model->load_state_dict(strip_prefix(state.tensors, "model."), true);
    optimizer->load_state_tensors(strip_prefix(state.tensors, "optimizer."));
    restore_dropout_generators(dropouts, state.tensors, state_path.string());
    auto meta = [&](const char* key) {
      auto it = state.metadata.find(key);
      CNN_CHECK(it != state.metadata.end(), state_path.string(), ": metadata '", key,
                "' is missing");
      return it->second;
    };
    start_epoch = std::stoll(meta("epoch"));
    start_batch = std::stoll(meta("batch"));
    step = std::stoll(meta("step"));
    best_test_acc = std::stod(meta("best_test_acc"));
    sums.images = std::stoll(meta("epoch_images"));
    sums.correct = std::stoll(meta("epoch_correct"));
    sums.steps = std::stoll(meta("epoch_steps"));
    sums.loss_sum = std::stod(meta("epoch_loss_sum"));
    sums.step_seconds = std::stod(meta("epoch_step_seconds"));
    sums.loop_seconds = std::stod(meta("epoch_loop_seconds"));
    for (const EpochRecord& r : read_epochs_csv((dir / "epochs.csv").string()))
      if (r.epoch < start_epoch) history.push_back(r);
    spdlog::info("resuming '{}' at epoch {}, batch {} (step {})", run_dir, start_epoch + 1,
                 start_batch, step);
  }

  CsvWriter metrics((dir / "metrics.csv").string(), "epoch,step,lr,loss,accuracy",
                    resuming ? static_cast<double>(step) : -1.0, /*key_column=*/1);
  CsvWriter epochs_csv((dir / "epochs.csv").string(), epochs_csv_header(),
                       resuming ? static_cast<double>(start_epoch + 1) : -1.0, 0);
  std::unique_ptr<LayerStatsRecorder> layer_stats;
  if (settings.layer_stats_every > 0)
    layer_stats =
        std::make_unique<LayerStatsRecorder>((dir / "layer_stats.csv").string(), resuming, step);

  fs::path runs_folder = dir.parent_path().empty() ? fs::path(".") : dir.parent_path();
  std::string db_path =
      options.runs_db.empty() ? (runs_folder / "runs.db").string() : options.runs_db;
  RunStore store(db_path);
  int64_t run_id =
      store.begin_run(config.name, run_dir, to_yaml_string(config.root), timestamp_iso());

  TrainResult result;
  result.run_dir = run_dir;
  result.parameter_count = model->parameter_count();
  spdlog::info("run '{}' in {}: {} parameters, {} training / {} test images, {} steps per epoch",
               config.name, run_dir, result.parameter_count, datasets.train.size(),
               datasets.test.size(), steps_per_epoch);

  // ---- Checkpointing. ----------------------------------------------------------------------
  int64_t position_epoch = start_epoch, position_batch = start_batch;
  // Doubles cross the checkpoint as text: print them exactly (std::to_string keeps 6 decimals).
  auto exact = [](double value) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.17g", value);
    return std::string(text);
  };
  auto save_checkpoint = [&]() {
    std::vector<NamedTensor> weights = model->state_dict();
    save_safetensors((dir / kCheckpointFile).string(), weights, {{"format", "pt"}});
    std::vector<NamedTensor> state = with_prefix(weights, "model.");
    for (auto& entry : with_prefix(optimizer->state_tensors(), "optimizer."))
      state.push_back(entry);
    for (const auto& [path, layer] : dropouts)
      state.emplace_back(dropout_state_name(path), generator_state_tensor(layer->generator()));
    std::map<std::string, std::string> meta{{"epoch", std::to_string(position_epoch)},
                                            {"batch", std::to_string(position_batch)},
                                            {"step", std::to_string(step)},
                                            {"best_test_acc", exact(best_test_acc)},
                                            {"epoch_images", std::to_string(sums.images)},
                                            {"epoch_correct", std::to_string(sums.correct)},
                                            {"epoch_steps", std::to_string(sums.steps)},
                                            {"epoch_loss_sum", exact(sums.loss_sum)},
                                            {"epoch_step_seconds", exact(sums.step_seconds)},
                                            {"epoch_loop_seconds", exact(sums.loop_seconds)}};
    save_safetensors((dir / kStateFile).string(), state, meta);
  };

  // summary.json's content; `error` only for a failed run.
  auto summary_json = [&](const std::string& status, const std::string& error) {
    result.status = status;
    result.epochs = history;
    double rate_sum = 0, step_sum = 0;
    for (const EpochRecord& r : history) {
      rate_sum += r.images_per_s;
      step_sum += r.step_seconds;
    }
    if (!history.empty()) {
      result.final_test_acc = history.back().test_acc;
      result.train_images_per_s = rate_sum / history.size();
      result.mean_step_seconds = step_sum / history.size();
    }
    result.best_test_acc = std::max(0.0, best_test_acc);
    JsonObject summary;
    summary.string("name", config.name)
        .string("status", status)
        .string("run_dir", run_dir)
        .number("final_test_acc", result.final_test_acc)
        .number("best_test_acc", result.best_test_acc)
        .number("train_images_per_s", result.train_images_per_s)
        .number("mean_step_seconds", result.mean_step_seconds)
        .boolean("diverged", result.diverged)
        .integer("diverged_step", result.diverged_step)
        .string("diverged_reason", result.diverged_reason)
        .integer("epochs_completed", static_cast<int64_t>(history.size()))
        .integer("steps", step)
        .integer("parameter_count", result.parameter_count);
    if (!history.empty())
      summary.number("final_train_acc", history.back().train_acc)
          .number("final_train_loss", history.back().train_loss)
          .number("final_test_loss", history.back().test_loss);
    if (!error.empty()) summary.string("error", error);
    return summary.str();
  };
  auto finish = [&](const std::string& status) {
    std::string json = summary_json(status, "");
    write_text_file_atomically((dir / "summary.json").string(), json);
    store.finish_run(run_id, status, json);
    return result;
  };

  // ---- 4. The epochs. -----------------------------------------------------------------------
  install_stop_handlers();
  const bool check_every_step = settings.nan_check == "every_step";
  std::vector<NamedTensor> parameters = model->named_parameters();
  std::vector<Tensor> parameter_tensors;
  for (auto& [name, t] : parameters) parameter_tensors.push_back(t);
  std::vector<StepRow> pending_steps;

  // An exception from here on (a full disk, an unreadable batch) ends the run as "failed",
  // recorded as far as the disk still allows in summary.json and runs.db (with the error), and
  // is then rethrown unchanged: the caller's message and exit status are the original error's.
  auto record_failure = [&](const std::string& error) noexcept {
    try {
      logger.error_to_file("the run failed at step " + std::to_string(step) + ": " + error);
      std::string json;
      try {
        json = summary_json("failed", error);
        write_text_file_atomically((dir / "summary.json").string(), json);
      } catch (const std::exception& e) {
        logger.error_to_file(std::string("could not record the failure in summary.json: ") +
                             e.what());
      }
      // The steps since the last flush first, then the status: each may fail on its own (a
      // full disk can refuse the steps' new pages and still take the one-row update).
      try {
        if (!pending_steps.empty()) store.log_steps(run_id, pending_steps);
      } catch (const std::exception& e) {
        logger.error_to_file(std::string("could not record the last steps in runs.db: ") +
                             e.what());
      }
      try {
        store.finish_run(run_id, "failed", json);
      } catch (const std::exception& e) {
        logger.error_to_file(std::string("could not record the failure in runs.db: ") + e.what());
      }
    } catch (...) {
      // Out of memory while building a message: the original error still propagates.
    }
  };
  auto run_epochs = [&]() -> TrainResult {
    for (int64_t epoch = start_epoch; epoch < settings.epochs; ++epoch) {
      Clock::time_point epoch_start = Clock::now();
      int64_t first_batch = epoch == start_epoch ? start_batch : 0;
      if (epoch != start_epoch) sums = EpochSums{};
      train_loader.begin_epoch(epoch, first_batch);
      Progress progress(epoch, settings.epochs, steps_per_epoch, settings.log_every, options.quiet);
      model->train();
      int64_t batch_index = first_batch;
      Clock::time_point loop_mark = Clock::now();
      while (auto batch = train_loader.next()) {
        Clock::time_point step_start = Clock::now();
        double lr = schedule->lr_at(step);
        optimizer->set_lr(lr);
        bool record_stats = layer_stats && step % settings.layer_stats_every == 0;
        if (record_stats) layer_stats->attach(*model, step);
        Tensor logits = model->forward(batch->images);
        if (record_stats) layer_stats->detach(*model);
        Tensor loss =
            cross_entropy(logits, batch->labels, static_cast<float>(settings.label_smoothing));
        double loss_value = loss.item();
        int64_t n = batch->labels.numel();
        int64_t correct = count_correct(logits, batch->labels);
        char row[160];
        std::snprintf(row, sizeof(row), "%ld,%ld,%.6g,%.6g,%.6g", (long)(epoch + 1), (long)step, lr,
                      loss_value, static_cast<double>(correct) / n);
        metrics.row(row);
        pending_steps.push_back(
            StepRow{epoch + 1, step, lr, loss_value, static_cast<double>(correct) / n});

        std::string problem;
        if (!std::isfinite(loss_value)) problem = "the loss is " + std::to_string(loss_value);
        if (problem.empty()) {
          optimizer->zero_grad();
          loss.backward();
          if (check_every_step)
            for (auto& [name, t] : parameters)
              if (t.grad().defined() && !all_finite(t.grad())) {
                problem = "the gradient of '" + name + "' holds NaN or inf";
                break;
              }
          if (record_stats) {
            layer_stats->record_gradients(parameters, step);
            store.log_layer_stats(run_id, layer_stats->take_recent());
          }
          if (settings.clip_grad_norm > 0)
            clip_grad_norm(parameter_tensors, settings.clip_grad_norm);
        }
        if (problem.empty()) {
          optimizer->step();
          if (check_every_step)
            for (auto& [name, t] : model->named_buffers())
              if (!all_finite(t)) {
                problem = "the buffer '" + name + "' (running statistics) holds NaN or inf";
                break;
              }
        }
        if (!problem.empty()) {
          progress.finish();
          result.diverged = true;
          result.diverged_step = step;
          result.diverged_reason = problem;
          spdlog::warn("diverged at step {} (epoch {}): {}; stopping the run", step, epoch + 1,
                       problem);
          store.log_steps(run_id, pending_steps);
          return finish("diverged");
        }
        double step_seconds = seconds_since(step_start);
        sums.images += n;
        sums.correct += correct;
        sums.loss_sum += loss_value * n;
        sums.steps += 1;
        sums.step_seconds += step_seconds;
        sums.loop_seconds += seconds_since(loop_mark);
        loop_mark = Clock::now();
        progress.update(batch_index, n, loss_value, correct);
        ++step;
        ++batch_index;
        position_epoch = epoch;
        position_batch = batch_index;
        if (pending_steps.size() >= 200) {
          store.log_steps(run_id, pending_steps);
          pending_steps.clear();
        }
        bool out_of_steps = settings.max_steps > 0 && step >= settings.max_steps;
        if (stop_requested()) {
          progress.finish();
          store.log_steps(run_id, pending_steps);
          save_checkpoint();
          spdlog::warn(
              "stopped by signal {} at step {}; checkpoint written. Resume with:\n  cnnlab train "
              "--resume {}",
              stop_signal(), step, run_dir);
          clear_stop_request();
          return finish("interrupted");
        }
        if (settings.checkpoint_every > 0 && step % settings.checkpoint_every == 0)
          save_checkpoint();
        if (out_of_steps) break;
      }
      progress.finish();
      store.log_steps(run_id, pending_steps);
      pending_steps.clear();

      double train_seconds = sums.loop_seconds;  // images/s counts waiting for data too
      EvalResult test = evaluate(*model, test_loader, num_classes);
      EpochRecord record;
      record.epoch = epoch;
      record.train_loss = sums.images ? sums.loss_sum / sums.images : 0;
      record.train_acc = sums.images ? static_cast<double>(sums.correct) / sums.images : 0;
      record.test_loss = test.loss;
      record.test_acc = test.accuracy;
      record.seconds = seconds_since(epoch_start);
      record.images_per_s = train_seconds > 0 ? sums.images / train_seconds : 0;
      record.step_seconds = sums.steps ? sums.step_seconds / sums.steps : 0;
      history.push_back(record);
      epochs_csv.row(epoch_csv_row(record));
      store.log_epoch(run_id,
                      EpochRow{epoch + 1, record.train_loss, record.train_acc, record.test_loss,
                               record.test_acc, record.seconds, record.images_per_s});
      spdlog::info(
          "epoch {}/{}: train loss {:.4f} acc {:.4f} | test loss {:.4f} acc {:.4f} | {:.1f}s, "
          "{:.0f} img/s",
          epoch + 1, settings.epochs, record.train_loss, record.train_acc, record.test_loss,
          record.test_acc, record.seconds, record.images_per_s);

      // A max_steps stop inside the epoch keeps its position (and the epoch's sums), so a
      // resume with max_steps lifted continues with the epoch's remaining batches.
      if (batch_index >= steps_per_epoch) {
        position_epoch = epoch + 1;
        position_batch = 0;
        sums = EpochSums{};
      }
      bool improved = test.accuracy > best_test_acc;
      if (improved) best_test_acc = test.accuracy;
      save_checkpoint();
      if (improved)
        save_safetensors((dir / kBestFile).string(), model->state_dict(), {{"format", "pt"}});
      if (settings.max_steps > 0 && step >= settings.max_steps) break;
    }
    return finish("completed");
  };
  try {
    return run_epochs();
  } catch (const std::exception& e) {
    record_failure(e.what());
    throw;
  } catch (...) {
    record_failure("an exception that is not a std::exception");
    throw;
  }
}

}  // namespace cnn
