// Data-parallel training under mpirun (2 ranks on loopback, as CI runs it, as root too):
// SyncBatchNorm over 2 ranks x batch B equals batch norm on 1 process x 2B, plain batch norm
// does not, the gradient is the ranks' average, a 2-rank run resumes on 1 process, a config
// that differs between ranks is refused, and a killed rank ends the job.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <thread>

#include "core/safetensors.h"
#include "tests/apps/cnnlab_process.h"

using namespace cnn;
using namespace cnn::apptest;

namespace {

// mpirun ARGS... for `ranks` processes on this machine over loopback.
std::vector<std::string> mpirun_args(int ranks, const std::vector<std::string>& rest) {
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  std::vector<std::string> args{"-np",         std::to_string(ranks), "--oversubscribe",
                                "--bind-to",   "none",                "--mca",
                                "btl",         "self,vader,tcp",      "--mca",
                                "btl_tcp_if_include", "lo"};
  // Under the sanitizer build (scripts/sanitize.sh sets ASAN_OPTIONS), Open MPI's components
  // leave allocations behind at exit in libraries it has already unloaded, which LSan cannot
  // even name: leak checking is off for the ranks alone (every single-process run keeps it).
  if (const char* asan = std::getenv("ASAN_OPTIONS")) {
    args.push_back("-x");
    args.push_back(std::string("ASAN_OPTIONS=") + asan + ":detect_leaks=0");
  }
  args.insert(args.end(), rest.begin(), rest.end());
  return args;
}

std::string mpirun() {
  const std::string path = CNNLAB_MPIEXEC;
  if (path.empty() || ::access(path.c_str(), X_OK) != 0) {
    WARN("skipped: no mpirun (install openmpi-bin)");
    return "";
  }
  return path;
}

// tiny_config with the model's norm replaced.
std::string config_with_norm(const std::string& root, int64_t images, int64_t epochs,
                             int64_t batch, const std::string& norm) {
  std::string text = tiny_config(root, images, epochs, batch);
  const std::string from = "norm: batch";
  text.replace(text.find(from), from.size(), "norm: " + norm);
  return text;
}

// metrics.csv's loss column, by step.
std::vector<double> step_losses(const std::string& run_dir) {
  std::vector<double> losses;
  std::istringstream in(read_text((fs::path(run_dir) / "metrics.csv").string()));
  std::string line;
  std::getline(in, line);  // header: epoch,step,lr,loss,accuracy
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::istringstream row(line);
    for (std::string cell; std::getline(row, cell, ',');) cells.push_back(cell);
    REQUIRE(cells.size() == 5);
    losses.push_back(std::stod(cells[3]));
  }
  return losses;
}

// The largest difference between the two checkpoints' tensors (float32 ones).
double max_weight_difference(const std::string& a_dir, const std::string& b_dir) {
  const auto a = load_safetensors((fs::path(a_dir) / "checkpoint.safetensors").string()).tensors;
  const auto b = load_safetensors((fs::path(b_dir) / "checkpoint.safetensors").string()).tensors;
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].first == b[i].first);
    if (a[i].second.dtype() != DType::Float32) {
      CHECK(a[i].second.to_int64_vector() == b[i].second.to_int64_vector());
      continue;
    }
    const std::vector<float> x = a[i].second.to_vector(), y = b[i].second.to_vector();
    REQUIRE(x.size() == y.size());
    for (size_t j = 0; j < x.size(); ++j) worst = std::max(worst, std::fabs(double(x[j]) - y[j]));
  }
  return worst;
}

struct Runs {
  std::string mpi, binary;
  ScratchFolder scratch{"cnnlab_mpi"};
  std::string data_root = scratch.path + "/cifar";
  Runs() : mpi(mpirun()), binary(cnnlab_binary()) {
    if (ready()) write_tiny_cifar10(data_root, 64, 16);
  }
  bool ready() const { return !mpi.empty() && !binary.empty(); }

  // cnnlab train on `ranks` processes (1: without mpirun) of CONFIG-TEXT into scratch/NAME.
  std::string train(const std::string& name, const std::string& config, int ranks,
                    const std::vector<std::string>& extra = {}) {
    const std::string config_path = scratch.path + "/" + name + ".yaml";
    write_text(config_path, config);
    const std::string out = scratch.path + "/" + name;
    std::vector<std::string> args{"train", "--config", config_path, "--out", out};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string output;
    ExitStatus status;
    if (ranks == 1) {
      status = run_cnnlab(binary, args, output);
    } else {
      args.insert(args.begin(), binary);
      status = run_cnnlab(mpi, mpirun_args(ranks, args), output);
    }
    INFO(output);
    REQUIRE(status.exited);
    REQUIRE(status.code == 0);
    return out;
  }
  // cnnlab train --resume RUN on 2 ranks, which must finish.
  void resume_on_two(const std::string& run) {
    std::string output;
    const ExitStatus status =
        run_cnnlab(mpi, mpirun_args(2, {binary, "train", "--resume", run}), output);
    INFO(output);
    REQUIRE(status.exited);
    REQUIRE(status.code == 0);
  }
};

// Step losses agree within this (relative) and final weights within this (absolute): the
// only difference allowed is the order of the reductions (two ranks' sums added, the shift
// of the statistics being the running mean rather than a sample).
constexpr double kLossTolerance = 1e-4, kWeightTolerance = 1e-4;

}  // namespace

TEST_CASE("2 ranks x batch 4 with SyncBatchNorm equal 1 process x batch 8 with batch norm",
          "[apps][distributed]") {
  Runs runs;
  if (!runs.ready()) return;
  const std::string one = runs.train("one", config_with_norm(runs.data_root, 64, 2, 8, "batch"), 1);
  const std::string two =
      runs.train("two", config_with_norm(runs.data_root, 64, 2, 4, "syncbatch"), 2);
  const std::vector<double> a = step_losses(one), b = step_losses(two);
  REQUIRE(a.size() == 16);
  REQUIRE(b.size() == a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("step " << i << ": " << a[i] << " vs " << b[i]);
    CHECK(std::fabs(a[i] - b[i]) <= kLossTolerance * std::max(1.0, std::fabs(a[i])));
  }
  CHECK(max_weight_difference(one, two) <= kWeightTolerance);
  const nlohmann::json summary = read_summary(two);
  CHECK(summary["world_size"] == 2);
  CHECK(fs::exists(fs::path(two) / "rank1.log"));
  CHECK(read_text((fs::path(two) / "train.log").string()).find("global batch 8") !=
        std::string::npos);

  SECTION("plain batch norm under 2 ranks keeps per-rank statistics, and differs") {
    const std::string plain =
        runs.train("plain", config_with_norm(runs.data_root, 64, 2, 4, "batch"), 2);
    const std::vector<double> c = step_losses(plain);
    REQUIRE(c.size() == a.size());
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - c[i]));
    CHECK(worst > 100 * kLossTolerance);
  }
}

TEST_CASE("the gradient of 2 ranks is their average: without norm, 2 x 4 trains as 1 x 8, "
          "in every overlap mode",
          "[apps][distributed]") {
  Runs runs;
  if (!runs.ready()) return;
  const std::string one = runs.train("one", config_with_norm(runs.data_root, 64, 1, 8, "none"), 1);
  const std::string two =
      runs.train("two", config_with_norm(runs.data_root, 64, 1, 4, "none"), 2,
                 {"--set", "dist.bucket_kb=1", "--set", "dist.overlap=thread"});  // several buckets
  const std::vector<double> a = step_losses(one), b = step_losses(two);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i)
    CHECK(std::fabs(a[i] - b[i]) <= kLossTolerance * std::max(1.0, std::fabs(a[i])));
  CHECK(max_weight_difference(one, two) <= kWeightTolerance);
  // The buckets reduced on the communication thread during backward, or all after it:
  // the same sums of the same values, so the same weights bit for bit.
  const std::string blocking =
      runs.train("blocking", config_with_norm(runs.data_root, 64, 1, 4, "none"), 2,
                 {"--set", "dist.bucket_kb=1", "--set", "dist.overlap=false"});
  CHECK(max_weight_difference(two, blocking) == 0);
  CHECK(read_text((fs::path(two) / "train.log").string())
            .find("allreduced on a communication thread during the backward") !=
        std::string::npos);
  // MPI_Iallreduce on the main thread, tested between layers: the same sums again.
  const std::string nonblocking =
      runs.train("nonblocking", config_with_norm(runs.data_root, 64, 1, 4, "syncbatch"), 2,
                 {"--set", "dist.bucket_kb=1", "--set", "dist.overlap=iallreduce"});
  const std::string threaded =
      runs.train("threaded", config_with_norm(runs.data_root, 64, 1, 4, "syncbatch"), 2,
                 {"--set", "dist.bucket_kb=1", "--set", "dist.overlap=thread"});
  CHECK(max_weight_difference(nonblocking, threaded) == 0);
  CHECK(step_losses(nonblocking) == step_losses(threaded));
  CHECK(read_text((fs::path(nonblocking) / "train.log").string())
            .find("MPI_Iallreduce during the backward") != std::string::npos);
  // auto: 2 ranks x 1 thread fill these 2 cores (at most), so no communication thread.
  const std::string automatic =
      runs.train("automatic", config_with_norm(runs.data_root, 64, 1, 4, "syncbatch"), 2,
                 {"--set", "dist.bucket_kb=1", "--set", "train.threads=1"});
  CHECK(max_weight_difference(automatic, threaded) == 0);
  if (std::thread::hardware_concurrency() < 4)
    CHECK(read_text((fs::path(automatic) / "train.log").string())
              .find("MPI_Iallreduce during the backward") != std::string::npos);
}

TEST_CASE("a run of 2 ranks resumes on 1 process at the same sample", "[apps][distributed]") {
  Runs runs;
  if (!runs.ready()) return;
  const std::string config = config_with_norm(runs.data_root, 64, 2, 4, "syncbatch");
  const std::string run = runs.train("run", config, 2, {"--set", "train.max_steps=3"});
  CHECK(read_summary(run)["steps"] == 3);
  // Lift max_steps and continue on one process: global batch 3 of 8 samples is batch 6 of 4.
  write_text((fs::path(run) / "config.yaml").string(), config);
  std::string output;
  const ExitStatus status = run_cnnlab(runs.binary, {"train", "--resume", run}, output);
  INFO(output);
  REQUIRE(status.exited);
  REQUIRE(status.code == 0);
  CHECK(output.find("resuming a run of 2 processes on 1: batch 3 of 8 becomes batch 6") !=
        std::string::npos);
  const nlohmann::json summary = read_summary(run);
  CHECK(summary["status"] == "completed");
  CHECK(summary["world_size"] == 1);
  CHECK(summary["steps"] == 3 + (16 - 6) + 16);
  CHECK(step_losses(run).size() == 3 + (16 - 6) + 16);
}

TEST_CASE("a run of 2 ranks resumed on 2 ranks equals the uninterrupted run exactly",
          "[apps][distributed]") {
  Runs runs;
  if (!runs.ready()) return;
  const std::string config = config_with_norm(runs.data_root, 64, 2, 4, "batch");
  const std::string whole = runs.train("whole", config, 2);
  const std::string run = runs.train("run", config, 2, {"--set", "train.max_steps=5"});
  write_text((fs::path(run) / "config.yaml").string(), config);
  runs.resume_on_two(run);
  CHECK(read_summary(run)["status"] == "completed");
  CHECK(step_losses(run) == step_losses(whole));
  CHECK(max_weight_difference(run, whole) == 0);
}

TEST_CASE("a config that differs between ranks is refused, naming the key",
          "[apps][distributed]") {
  Runs runs;
  if (!runs.ready()) return;
  const std::string a = runs.scratch.path + "/a.yaml", b = runs.scratch.path + "/b.yaml";
  std::string config = config_with_norm(runs.data_root, 64, 1, 4, "batch");
  write_text(a, config);
  config.replace(config.find("lr: 0.01"), 8, "lr: 0.02");
  write_text(b, config);
  const std::string out = runs.scratch.path + "/run";
  std::string output;
  // MPMD: rank 0 runs a.yaml, rank 1 b.yaml.
  std::vector<std::string> args = mpirun_args(1, {runs.binary, "train", "--config", a, "--out", out});
  for (const char* s : {":", "-np", "1", runs.binary.c_str(), "train", "--config"})
    args.push_back(s);
  args.push_back(b);
  args.push_back("--out");
  args.push_back(out);
  const ExitStatus status = run_cnnlab(runs.mpi, args, output, 60000);
  INFO(output);
  CHECK(!(status.exited && status.code == 0));
  CHECK(output.find("rank 1's config differs from rank 0's: 'optim.lr: 0.02' here, "
                    "'optim.lr: 0.01' on rank 0") != std::string::npos);
}

TEST_CASE("a killed rank ends the job within a bounded time, naming it", "[apps][distributed]") {
  const std::string mpi = mpirun(), binary = cnnlab_binary();
  if (mpi.empty() || binary.empty()) return;
  ScratchFolder scratch("cnnlab_mpi_kill");
  const std::string data_root = scratch.path + "/cifar";
  write_tiny_cifar10(data_root, 1024, 16);
  const std::string config_path = scratch.path + "/c.yaml", out = scratch.path + "/run";
  write_text(config_path, config_with_norm(data_root, 1024, 50, 8, "syncbatch"));
  CnnlabProcess job(mpi, mpirun_args(2, {binary, "train", "--config", config_path, "--out", out}));
  // Rank 1 logs its pid; wait for it and for a few steps.
  long pid = 0;
  const std::string log = out + "/rank1.log";
  for (int i = 0; i < 600 && pid == 0; ++i) {
    job.read_for_ms(100);
    const std::string text = fs::exists(log) ? read_text(log) : "";
    const size_t at = text.find("(pid ");
    if (at != std::string::npos) pid = std::atol(text.c_str() + at + 5);
  }
  REQUIRE(pid > 0);
  // mpirun gives rank 0 a pseudo-terminal: the progress bar ("... 3/64 ..."), not log lines
  REQUIRE(job.wait_for_output(" 3/64 ", 60000));
  REQUIRE(::kill(static_cast<pid_t>(pid), SIGKILL) == 0);
  const auto start = std::chrono::steady_clock::now();
  const ExitStatus status = job.wait(60000);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO(job.output());
  CHECK(!(status.exited && status.code == 0));
  CHECK(seconds < 30);
  CHECK(job.output().find("rank 1") != std::string::npos);
  CHECK_NOTHROW(load_safetensors(out + "/state.safetensors"));
}

TEST_CASE("a divergence under 2 ranks stops both at the same step, never hangs",
          "[apps][distributed]") {
  Runs runs;
  if (!runs.ready()) return;
  std::string config = config_with_norm(runs.data_root, 64, 2, 4, "none");
  config.replace(config.find("lr: 0.01"), 8, "lr: 1e6");
  const std::string run = runs.train("run", config, 2);
  const nlohmann::json summary = read_summary(run);
  CHECK(summary["status"] == "diverged");
  CHECK(read_text((fs::path(run) / "rank1.log").string()).find("diverged at step") !=
        std::string::npos);
}

TEST_CASE("Ctrl-C to mpirun stops both ranks at one step boundary with a checkpoint",
          "[apps][distributed]") {
  // mpirun answers SIGINT by sending SIGTERM to every rank and SIGKILL 1 s later
  // (odls_base_sigkill_timeout): the ranks agree on the step, rank 0 writes the checkpoint,
  // well inside that second for steps this short.
  Runs runs;
  if (!runs.ready()) return;
  write_tiny_cifar10(runs.data_root, 1024, 16);
  const std::string config_path = runs.scratch.path + "/c.yaml";
  const std::string out = runs.scratch.path + "/run";
  const int64_t total_steps = 1024 / (2 * 8) * 4;
  write_text(config_path, config_with_norm(runs.data_root, 1024, 4, 8, "syncbatch"));
  CnnlabProcess job(runs.mpi,
                    mpirun_args(2, {runs.binary, "train", "--config", config_path, "--out", out}));
  REQUIRE(job.wait_for_output(" 3/64 ", 60000));
  job.send(SIGINT);
  const ExitStatus status = job.wait(30000);
  INFO(job.output());
  CHECK(!(status.exited && status.code == 0));
  // mpirun stops forwarding the consoles at Ctrl-C, so the message is in the log files.
  CHECK_THAT(read_text(out + "/train.log"), Catch::Contains("stopped by signal"));
  CHECK(summary_status(out) == "interrupted");
  const SafetensorsFile state = load_safetensors(out + "/state.safetensors");
  const int64_t stopped_at = std::stoll(state.metadata.at("step"));
  CHECK(stopped_at >= 3);
  CHECK(stopped_at < total_steps);
  // Rank 1 stopped at the same step as rank 0.
  CHECK_THAT(read_text(out + "/rank1.log"),
             Catch::Contains("at step " + std::to_string(stopped_at)));

  runs.resume_on_two(out);
  CHECK(summary_status(out) == "completed");
  CHECK(read_summary(out)["steps"] == total_steps);
}
