// Data-parallel training over MPI (see distributed.h).
#include "apps/distributed.h"

// The C API only: Open MPI's deprecated C++ bindings would need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#include <mpi.h>
#include <omp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <unistd.h>

#include "apps/bucket_reducer.h"
#include "apps/signals.h"
#include "core/autograd.h"
#include "core/collective.h"
#include "core/error.h"

namespace cnn {

namespace {

struct Group {
  bool initialized = false, thread_multiple = false;
  int rank = 0, world = 1, local = 1;
};
Group group;

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(name)) return true;
  return false;
}

void check_mpi(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  CNN_FAIL("MPI ", what, " failed on rank ", group.rank, ": ", std::string(text, length));
}

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The YAML document as one "a.b.c: value" line per scalar, in document order, so that two
// configs compare key by key.
void flatten(const YAML::Node& node, const std::string& path, std::vector<std::string>& out) {
  if (node.IsMap()) {
    for (const auto& entry : node)
      flatten(entry.second, path.empty() ? entry.first.as<std::string>()
                                         : path + "." + entry.first.as<std::string>(),
              out);
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i)
      flatten(node[i], path + "[" + std::to_string(i) + "]", out);
  } else {
    out.push_back(path + ": " + (node.IsScalar() ? node.as<std::string>() : std::string("null")));
  }
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1)
    lines.push_back(text.substr(start, end - start));
  return lines;
}

// The first line where this rank's list differs from rank 0's, as a sentence; "" when equal.
std::string first_difference(const std::vector<std::string>& mine,
                             const std::vector<std::string>& rank0, const char* what) {
  for (size_t i = 0; i < std::max(mine.size(), rank0.size()); ++i) {
    const std::string a = i < mine.size() ? mine[i] : "(nothing)";
    const std::string b = i < rank0.size() ? rank0[i] : "(nothing)";
    if (a != b)
      return std::string("rank ") + std::to_string(group.rank) + "'s " + what +
             " differs from rank 0's: '" + a + "' here, '" + b + "' on rank 0";
  }
  return "";
}

std::vector<std::string> model_lines(const Module& model) {
  std::vector<std::string> lines;
  for (const auto& [name, t] : model.state_dict())
    lines.push_back("tensor " + name + " " + shape_str(t.shape()) +
                    (t.dtype() == DType::Int64 ? " int64" : " float32"));
  return lines;
}

// A tensor's bytes (parameters and buffers are contiguous and own their storage).
void* bytes_of(Tensor& t) {
  return t.dtype() == DType::Int64 ? static_cast<void*>(t.data_i64())
                                   : static_cast<void*>(t.data());
}
int64_t size_of(const Tensor& t) { return t.numel() * (t.dtype() == DType::Int64 ? 8 : 4); }

}  // namespace

// ---- the process group ------------------------------------------------------------------

void Distributed::init(int* argc, char*** argv) {
  if (!launched_by_mpi()) return;
  int provided = 0;
  // MULTIPLE: the communication thread's allreduces run while SyncBatchNorm's run on the
  // main thread (on a communicator of their own, so that the two orders never mix).
  check_mpi(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided), "MPI_Init_thread");
  group.initialized = true;
  group.thread_multiple = provided >= MPI_THREAD_MULTIPLE;
  MPI_Comm_rank(MPI_COMM_WORLD, &group.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &group.world);
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, group.rank, MPI_INFO_NULL, &node);
  MPI_Comm_size(node, &group.local);
  MPI_Comm_free(&node);
  // Errors come back as codes (check_mpi turns them into exceptions naming the rank).
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  // The console is rank 0's: the others' results and progress would repeat it (their log
  // lines go to rank<k>.log, their errors still to stderr).
  if (group.rank != 0 && !std::freopen("/dev/null", "w", stdout))
    std::fprintf(stderr, "cnnlab: rank %d: cannot silence stdout\n", group.rank);
  release_console_on_stop();
  if (group.world > 1)
    set_collective([](double* data, int64_t count) { Distributed::allreduce_sum(data, count); },
                   group.world);
}

int Distributed::finish(int exit_code) {
  if (!group.initialized) return exit_code;
  set_collective({}, 1);
  if (exit_code != 0 && exit_code != 130 && group.world > 1) {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, exit_code);
  }
  MPI_Finalize();
  return exit_code;
}

bool Distributed::initialized() { return group.initialized; }
bool Distributed::thread_multiple() { return group.thread_multiple; }
int Distributed::rank() { return group.rank; }
int Distributed::world() { return group.world; }
int Distributed::local_ranks() { return group.local; }

void Distributed::allreduce_sum(double* data, int64_t count) {
  if (!group.initialized || group.world == 1) return;
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(count), MPI_DOUBLE, MPI_SUM,
                          MPI_COMM_WORLD),
            "MPI_Allreduce");
}

void Distributed::allreduce_sum(float* data, int64_t count) {
  if (!group.initialized || group.world == 1) return;
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(count), MPI_FLOAT, MPI_SUM,
                          MPI_COMM_WORLD),
            "MPI_Allreduce");
}

void Distributed::broadcast(void* data, int64_t bytes, int root) {
  if (!group.initialized || group.world == 1 || bytes == 0) return;
  check_mpi(MPI_Bcast(data, static_cast<int>(bytes), MPI_BYTE, root, MPI_COMM_WORLD),
            "MPI_Bcast");
}

std::string Distributed::broadcast(const std::string& text, int root) {
  int64_t length = static_cast<int64_t>(text.size());
  broadcast(&length, sizeof(length), root);
  std::string out = group.rank == root ? text : std::string(static_cast<size_t>(length), '\0');
  broadcast(out.data(), length, root);
  return out;
}

void Distributed::barrier() {
  if (group.initialized && group.world > 1) check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

int64_t threads_per_rank(int64_t configured) {
  if (configured > 0) return configured;
  if (std::getenv("OMP_NUM_THREADS") || !group.initialized) return 0;
  const int64_t cores = std::max(1, omp_get_num_procs());
  return std::max<int64_t>(1, cores / std::max(1, group.local));
}

namespace {
// `auto`: a communication thread spins in Open MPI's progress loop while it waits, so it pays
// only with a core of its own; where the ranks' compute threads fill the node (2 ranks x 1
// thread on 2 cores), MPI_Iallreduce measured faster (docs/scaling.md, scripts/bench_mpi.sh).
std::string overlap_mode(const std::string& setting) {
  if (setting == "thread" && !group.thread_multiple) return "iallreduce";
  if (setting != "auto") return setting;
  const bool spare_core = omp_get_num_procs() >= group.local * (omp_get_max_threads() + 1);
  return spare_core && group.thread_multiple ? "thread" : "iallreduce";
}
}  // namespace

void shard_for_rank(LoaderOptions& options) {
  options.shard_index = group.rank;
  options.shard_count = group.world;
}

// ---- the data-parallel model ------------------------------------------------------------

DataParallel::DataParallel(Module& model, const Config& config) : model_(model) {
  // The same config and model everywhere, else the first difference, named.
  std::vector<std::string> mine;
  flatten(config.root, "", mine);
  std::vector<std::string> rank0 = split_lines(Distributed::broadcast(joined(mine)));
  std::string problem = first_difference(mine, rank0, "config");
  if (problem.empty()) {
    const std::vector<std::string> tensors = model_lines(model);
    problem = first_difference(tensors, split_lines(Distributed::broadcast(joined(tensors))),
                               "model");
  } else {
    Distributed::broadcast(std::string());  // rank 0's model list, to stay in step
  }
  // Every rank fails with the first differing rank's sentence, rank 0 included: its error is
  // the one mpirun surely prints before the abort ends the others.
  std::vector<double> bad(static_cast<size_t>(group.world), 0.0);
  if (!problem.empty()) bad[static_cast<size_t>(group.rank)] = 1.0;
  Distributed::allreduce_sum(bad.data(), static_cast<int64_t>(bad.size()));
  const auto first_bad = std::find(bad.begin(), bad.end(), 1.0);
  if (first_bad != bad.end()) {
    const int root = static_cast<int>(first_bad - bad.begin());
    CNN_FAIL(Distributed::broadcast(problem, root), "; every rank must run the same config");
  }

  // Rank 0's parameters and buffers, in one message.
  std::vector<NamedTensor> state = model.state_dict();
  int64_t total = 0;
  for (const auto& [name, t] : state) total += size_of(t);
  std::vector<char> bytes(static_cast<size_t>(total));
  int64_t at = 0;
  for (auto& [name, t] : state) {
    std::memcpy(bytes.data() + at, bytes_of(t), size_of(t));
    at += size_of(t);
  }
  Distributed::broadcast(bytes.data(), total);
  at = 0;
  for (auto& [name, t] : state) {
    std::memcpy(bytes_of(t), bytes.data() + at, size_of(t));
    at += size_of(t);
  }

  // Buckets in reverse parameter order: the last layers' gradients are final first.
  const int64_t limit = dist_settings(config).bucket_kb * 1024;
  const std::vector<NamedTensor> parameters = model.named_parameters();
  int64_t filled = 0;
  for (auto it = parameters.rbegin(); it != parameters.rend(); ++it) {
    if (!it->second.requires_grad()) continue;  // frozen (train.bn_mode): no gradient ever
    if (buckets_.empty() || (filled > 0 && filled + size_of(it->second) > limit)) {
      buckets_.emplace_back();
      filled = 0;
    }
    buckets_.back().push_back(it->second);
    filled += size_of(it->second);
  }
  packs_.resize(buckets_.size());
  const std::string overlap = overlap_mode(dist_settings(config).overlap);
  if (overlap != "none") reducer_ = make_bucket_reducer(overlap, group.rank);
  spdlog::info("data-parallel: rank {} of {} (pid {}, {} ranks on this node, {} threads), {} "
               "gradient bytes in {} buckets of up to {} KB, {}",
               group.rank, group.world, static_cast<long>(::getpid()), group.local,
               omp_get_max_threads(), gradient_bytes(), buckets_.size(), limit / 1024,
               overlap == "thread"       ? "allreduced on a communication thread during the backward"
               : overlap == "iallreduce" ? "MPI_Iallreduce during the backward, tested between layers"
                                         : "allreduced after the backward");
}

DataParallel::~DataParallel() { set_backward_progress_hook({}); }

int64_t DataParallel::gradient_bytes() const {
  int64_t total = 0;
  for (const auto& bucket : buckets_)
    for (const Tensor& t : bucket) total += size_of(t);
  return total;
}

void DataParallel::wrap(TrainStepHooks& hooks, int64_t images, int64_t global_images) {
  weight_ = static_cast<float>(static_cast<double>(images) / static_cast<double>(global_images));
  next_bucket_ = 0;
  if (reducer_)
    set_backward_progress_hook([this] {
      start_ready_buckets();
      reducer_->progress();
    });
  hooks.after_loss = [](TrainStepResult& result) {
    // [loss * images, correct, images]: a NaN anywhere makes the global loss NaN
    double sums[3] = {result.loss * result.images, static_cast<double>(result.correct),
                      static_cast<double>(result.images)};
    Distributed::allreduce_sum(sums, 3);
    result.images = static_cast<int64_t>(sums[2]);
    result.correct = static_cast<int64_t>(sums[1]);
    result.loss = sums[2] > 0 ? sums[0] / sums[2] : result.loss;
  };
  std::function<void()> then = std::move(hooks.after_backward);
  hooks.after_backward = [this, then] {
    finish_gradients();
    if (then) then();
  };
}

bool DataParallel::pack(size_t bucket) {
  int64_t count = 0;
  for (const Tensor& p : buckets_[bucket])
    if (p.grad().defined()) count += p.numel();
  std::vector<float>& pack = packs_[bucket];
  pack.resize(static_cast<size_t>(count));
  int64_t at = 0;
  for (const Tensor& p : buckets_[bucket]) {
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    const Tensor c = g.contiguous();
    const float* src = c.data();
    for (int64_t i = 0; i < c.numel(); ++i) pack[at + i] = src[i] * weight_;
    at += c.numel();
  }
  return count > 0;  // the same on every rank: the same model and batch structure
}

void DataParallel::unpack(size_t bucket) {
  int64_t at = 0;
  for (Tensor& p : buckets_[bucket]) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (!g.is_contiguous()) {
      g = g.contiguous();
      p.set_grad(g);
    }
    std::memcpy(g.data(), packs_[bucket].data() + at, sizeof(float) * g.numel());
    at += g.numel();
  }
}

void DataParallel::start_ready_buckets() {
  while (next_bucket_ < buckets_.size()) {
    for (const Tensor& p : buckets_[next_bucket_])
      if (!p.grad().defined()) return;  // still to come
    pack(next_bucket_);
    reducer_->submit(&packs_[next_bucket_]);
    ++next_bucket_;
  }
}

void DataParallel::finish_gradients() {
  const Clock::time_point start = Clock::now();
  if (reducer_) {
    set_backward_progress_hook({});
    // The buckets not handed over yet (a parameter without a gradient holds one back),
    // in order: every rank submits the same sequence.
    for (; next_bucket_ < buckets_.size(); ++next_bucket_) {
      pack(next_bucket_);
      reducer_->submit(&packs_[next_bucket_]);
    }
    reducer_->wait_all();
    for (size_t b = 0; b < buckets_.size(); ++b) unpack(b);
    exposed_seconds_ += seconds_since(start);
    comm_seconds_ = reducer_->busy_seconds();
    return;
  }
  for (size_t b = 0; b < buckets_.size(); ++b) {
    if (!pack(b)) continue;
    Distributed::allreduce_sum(packs_[b].data(), static_cast<int64_t>(packs_[b].size()));
    unpack(b);
  }
  comm_seconds_ += seconds_since(start);
  exposed_seconds_ = comm_seconds_;
}

void DataParallel::broadcast_buffers() {
  std::vector<NamedTensor> buffers = model_.named_buffers();
  int64_t total = 0;
  for (const auto& [name, t] : buffers) total += size_of(t);
  if (total == 0) return;
  std::vector<char> bytes(static_cast<size_t>(total));
  int64_t at = 0;
  for (auto& [name, t] : buffers) {
    std::memcpy(bytes.data() + at, bytes_of(t), size_of(t));
    at += size_of(t);
  }
  Distributed::broadcast(bytes.data(), total);
  at = 0;
  for (auto& [name, t] : buffers) {
    std::memcpy(bytes_of(t), bytes.data() + at, size_of(t));
    at += size_of(t);
  }
}

bool DataParallel::finish_step(TrainStepResult& result) {
  ++steps_;
  set_backward_progress_hook({});  // a step that skipped backward (a NaN loss) left it set
  // [ranks asked to stop, ranks that diverged]
  double sums[2] = {stop_requested() ? 1.0 : 0.0, result.diverged() ? 1.0 : 0.0};
  Distributed::allreduce_sum(sums, 2);
  if (sums[1] > 0 && !result.diverged())
    result.divergence = "another rank diverged (see its rank<k>.log)";
  const bool stop = sums[0] > 0;
  if (stop) request_stop(SIGINT);  // a rank without a signal stops here with the others
  broadcast_buffers();
  return stop;
}

}  // namespace cnn
