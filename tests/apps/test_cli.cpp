// The cnnlab program itself (CNNLAB_BINARY_DIR/cnnlab, built by the `cnnlab` target): its
// subcommands, exit codes, and errors on stderr naming the key. Skipped with a warning when
// the binary has not been built.
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/config.h"
#include "apps/run_files.h"
#include "tests/apps/tiny_cifar.h"

using namespace cnn;
using namespace cnn::testing;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

const std::string kBinary = CNNLAB_BINARY_DIR "/cnnlab";

bool have_binary() {
  if (fs::exists(kBinary)) return true;
  WARN("cnnlab is not built at " << kBinary << "; build the `cnnlab` target first");
  return false;
}

std::string quoted(const std::string& text) { return "'" + text + "'"; }

// Runs cnnlab with `arguments`; stdout and stderr go to separate files, read back.
struct Cli {
  int status = -1;
  std::string out, err;
};
Cli cnnlab(const TempDir& tmp, const std::string& arguments) {
  CommandResult result =
      run_command(quoted(kBinary) + " " + arguments + " > " + quoted(tmp / "stdout.txt") + " 2> " +
                  quoted(tmp / "stderr.txt"));
  return Cli{result.status, read_text(tmp / "stdout.txt"), read_text(tmp / "stderr.txt")};
}

}  // namespace

TEST_CASE("cli: cnnlab layers lists the layer types with their keys", "[apps][cli]") {
  if (!have_binary()) return;
  TempDir tmp;
  Cli cli = cnnlab(tmp, "layers");
  CHECK(cli.status == 0);
  for (const char* type : {"conv2d", "batchnorm2d", "batchnorm1d", "groupnorm", "linear",
                           "maxpool2d", "relu", "flatten", "dropout", "norm"}) {
    INFO(type);
    CHECK_THAT(cli.out, Contains(std::string("\n").append(type)));
  }
  CHECK_THAT(cli.out,
             Contains("out_channels") && Contains("kernel_size") && Contains("[normalization]"));
  // The model-level keys after the layers, init_scale with its default and range.
  CHECK_THAT(cli.out, Contains("Model keys") && Contains("init_scale") &&
                          Contains("[0.001, 1000]") && Contains("conv_algorithm"));
}

TEST_CASE("cli: train --help lists the options", "[apps][cli]") {
  if (!have_binary()) return;
  TempDir tmp;
  Cli cli = cnnlab(tmp, "train --help");
  CHECK(cli.status == 0);
  CHECK_THAT(cli.out, Contains("--config") && Contains("--set") && Contains("--out") &&
                          Contains("--init-from") && Contains("--resume"));
  Cli top = cnnlab(tmp, "--help");
  CHECK(top.status == 0);
  CHECK_THAT(top.out, Contains("train") && Contains("eval") && Contains("compare") &&
                          Contains("report") && Contains("layers") && Contains("--plugin"));
}

TEST_CASE("cli: a bad config exits 1 with the key on stderr and writes nothing", "[apps][cli]") {
  if (!have_binary()) return;
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 10, 5);
  write_text(tmp / "bad.yaml", tiny_config_yaml(tmp / "data", "batch", 1, 0.05, "epochz: 3"));
  Cli cli = cnnlab(
      tmp, "train --config " + quoted(tmp / "bad.yaml") + " --out " + quoted(tmp / "runs/bad"));
  CHECK(cli.status == 1);
  CHECK_THAT(cli.err,
             Contains("cnnlab: error:") && Contains("train.epochz") && Contains("unknown key"));
  CHECK_FALSE(fs::exists(tmp / "runs"));

  write_text(tmp / "good.yaml", tiny_config_yaml(tmp / "data"));
  Cli layer = cnnlab(tmp, "train --config " + quoted(tmp / "good.yaml") +
                              " --set model.norm=batchy --out " + quoted(tmp / "runs/bad"));
  CHECK(layer.status == 1);
  CHECK_THAT(layer.err, Contains("model.norm") && Contains("batchy"));
  Cli set = cnnlab(tmp, "train --config " + quoted(tmp / "good.yaml") + " --set optim.lr.x=1");
  CHECK(set.status == 1);
  CHECK_THAT(set.err, Contains("'optim.lr' is not a mapping"));
  CHECK_FALSE(fs::exists(tmp / "runs"));

  Cli missing = cnnlab(tmp, "train");
  CHECK(missing.status == 1);
  CHECK_THAT(missing.err, Contains("--config"));
  Cli no_file = cnnlab(tmp, "train --config " + quoted(tmp / "nothing.yaml"));
  CHECK(no_file.status == 1);
  CHECK_THAT(no_file.err, Contains("nothing.yaml") && Contains("cannot open"));
}

TEST_CASE("cli: train and report through the binary with refusals and a plugin that cannot load",
          "[apps][cli]") {
  if (!have_binary()) return;
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 64, 32);
  write_text(tmp / "tiny.yaml", tiny_config_yaml(tmp / "data", "batch", 3));
  const std::string run = tmp / "runs/cli";
  Cli train = cnnlab(tmp, "train --config " + quoted(tmp / "tiny.yaml") +
                              " --set train.epochs=1 --set name=from_cli --out " + quoted(run));
  INFO(train.err);
  REQUIRE(train.status == 0);
  CHECK_THAT(train.out, Contains("from_cli: completed") && Contains("run directory: " + run));
  Config saved = load_config(run + "/config.yaml");
  CHECK(saved.train.epochs == 1);
  CHECK(saved.name == "from_cli");
  CHECK(read_json_file(run + "/summary.json")["status"] == "completed");

  Cli again = cnnlab(tmp, "train --config " + quoted(tmp / "tiny.yaml") + " --out " + quoted(run));
  CHECK(again.status == 1);
  CHECK_THAT(again.err, Contains("already holds a run"));
  Cli resume_with_set = cnnlab(tmp, "train --resume " + quoted(run) + " --set train.epochs=2");
  CHECK(resume_with_set.status == 1);
  CHECK_THAT(resume_with_set.err, Contains("--resume") && Contains("drop --config/--set"));

  Cli report =
      cnnlab(tmp, "report " + quoted(run) + " --out " + quoted(tmp / "report") + " --title T");
  CHECK(report.status == 0);
  CHECK(fs::exists(tmp / "report/report.md"));
  CHECK_THAT(report.out, Contains("| cli | batch |"));
  Cli not_run = cnnlab(tmp, "report " + quoted(tmp / "data"));
  CHECK(not_run.status == 1);
  CHECK_THAT(not_run.err, Contains("no summary.json"));

  Cli plugin = cnnlab(tmp, "--plugin " + quoted(tmp / "libnothing.so") + " layers");
  CHECK(plugin.status == 1);
  CHECK_THAT(plugin.err,
             Contains("--plugin") && Contains("libnothing.so") && Contains("cannot load"));
  CommandResult env = run_command("CNNLAB_PLUGINS=" + quoted(tmp / "libenv.so") + " " +
                                  quoted(kBinary) + " layers 2>&1");
  CHECK(env.status == 1);
  CHECK_THAT(env.output, Contains("libenv.so"));
}

TEST_CASE("cli: bench prints speeds, memory, the per-layer table and the norm cost, also as JSON",
          "[apps][cli][bench]") {
  if (!have_binary()) return;
  TempDir tmp;
  write_tiny_cifar(tmp / "data", 10, 5);
  write_text(tmp / "tiny.yaml", tiny_config_yaml(tmp / "data"));
  const std::string common = "bench --config " + quoted(tmp / "tiny.yaml") + " --batch 4 --steps 2 --threads 1";
  Cli text = cnnlab(tmp, common);
  CHECK(text.status == 0);
  CHECK_THAT(text.out, Contains("training:") && Contains("evaluation, BN folded:") &&
                           Contains("peak resident memory:") && Contains("sgemm (1024^3):") &&
                           Contains("fwd %") && Contains("0.conv2d(3->8"));
  Cli json = cnnlab(tmp, common + " --json --norm-overhead");
  CHECK(json.status == 0);
  INFO(json.out);
  const nlohmann::json out = nlohmann::json::parse(json.out);  // stdout holds only the object
  for (const char* key : {"train_images_per_s", "eval_images_per_s", "eval_folded_images_per_s",
                          "median_step_ms", "peak_rss_mb", "sgemm_gflops", "norm_step_ms",
                          "plain_step_ms"}) {
    INFO(key);
    REQUIRE(out.contains(key));
    REQUIRE(out[key].is_number());
    CHECK(out[key].get<double>() > 0.0);
  }
  CHECK(out["norm_overhead_percent"].is_number());
  CHECK(out["batch"] == 4);
  CHECK(out["threads"] == 1);
  // Each convolution path's error against double precision: float rounding, not more.
  CHECK_THAT(text.out, Contains("convolution numerics") && Contains("im2col"));
  REQUIRE(out["conv_numerics"].is_array());
  REQUIRE_FALSE(out["conv_numerics"].empty());
  for (const auto& row : out["conv_numerics"])
    for (const char* key : {"forward", "input_grad", "weight_grad"}) {
      INFO(row.dump());
      CHECK(row[key].get<double>() < 1e-5);
    }
  Cli overhead = cnnlab(tmp, common + " --norm-overhead");
  CHECK(overhead.status == 0);
  CHECK_THAT(overhead.out, Contains("normalization's cost:") && Contains("model.norm: none"));
}
