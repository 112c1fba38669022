// bench_store URL [BATCHES]: the rows per second the run store's writer thread sustains into
// the store URL names (sqlite:PATH or mysql://USER@HOST[:PORT]/DB, password from
// CNNLAB_STORE_PASSWORD): BATCHES batches of 200 steps' metrics (600 rows each), as training
// hands them over, timed from the first submit to the writer's close; best of 3.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "apps/run_store.h"
#include "apps/store_writer.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_store URL [BATCHES]\n");
    return 2;
  }
  const std::string url = argv[1];
  const int batches = argc > 2 ? std::atoi(argv[2]) : 50;
  double best = 0;
  for (int repetition = 0; repetition < 3; ++repetition) {
    cnn::StoreWriter writer(url, "/tmp/bench_store_spool.jsonl", false);
    cnn::RunRow row;
    row.id = cnn::RunStore::new_run_id();
    row.name = "bench";
    row.run_dir = "runs/bench";
    row.config_yaml = "model: {norm: batch}\n";
    row.started_at = "2026-12-01T00:00:00Z";
    writer.store()->begin_run(row);
    writer.start();
    const auto start = std::chrono::steady_clock::now();
    for (int b = 0; b < batches; ++b) {
      cnn::StoreBatch batch;
      batch.run_id = row.id;
      for (int s = 0; s < 200; ++s)
        for (const char* key : {"loss", "accuracy", "lr"})
          batch.metrics.push_back({b * 200 + s, 1, key, 0.5 + s * 1e-3});
      writer.submit(std::move(batch));
    }
    const size_t left = writer.close(std::chrono::seconds(60));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double rows_per_s = static_cast<double>(writer.rows_written()) / seconds;
    std::printf("%s: %zu rows in %.3f s = %.0f rows/s%s\n", cnn::RunStore::describe(url).c_str(),
                writer.rows_written(), seconds, rows_per_s, left ? " (some spooled)" : "");
    best = std::max(best, rows_per_s);
  }
  std::printf("best: %.0f rows/s\n", best);
  return 0;
}
