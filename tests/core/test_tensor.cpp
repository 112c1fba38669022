// Tensor storage, views, factories, initialisers and errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>

#include "core/random.h"
#include "core/tensor.h"

using namespace cnn;

TEST_CASE("tensor factories fill shape, strides and values", "[tensor]") {
  Tensor t = Tensor::zeros({2, 3, 4});
  REQUIRE(t.shape() == Shape{2, 3, 4});
  REQUIRE(t.strides() == Shape{12, 4, 1});
  REQUIRE(t.numel() == 24);
  REQUIRE(t.at({1, 2, 3}) == 0.0f);
  REQUIRE(Tensor::full({2}, 3.5f).to_vector() == std::vector<float>{3.5f, 3.5f});
  REQUIRE(Tensor::scalar(2.0f).item() == 2.0f);
  REQUIRE(Tensor::arange(4).to_vector() == std::vector<float>{0, 1, 2, 3});
  Tensor labels = Tensor::from_int64({3}, {7, 8, 9});
  REQUIRE(labels.dtype() == DType::Int64);
  REQUIRE(labels.data_i64()[2] == 9);
}

TEST_CASE("storage is 64-byte aligned", "[tensor]") {
  for (int64_t n : {1, 3, 17, 1000}) {
    Tensor t = Tensor::empty({n});
    REQUIRE(reinterpret_cast<uintptr_t>(t.data()) % 64 == 0);
  }
}

TEST_CASE("views share storage with their base", "[tensor]") {
  Tensor t = Tensor::from_vector({2, 3}, {0, 1, 2, 3, 4, 5});
  Tensor v = t.view({3, -1});
  REQUIRE(v.shape() == Shape{3, 2});
  v.data()[0] = 42.0f;
  REQUIRE(t.at({0, 0}) == 42.0f);

  Tensor rows = t.slice(1, 2);
  REQUIRE(rows.shape() == Shape{1, 3});
  REQUIRE(rows.at({0, 2}) == 5.0f);
  rows.data()[0] = -1.0f;
  REQUIRE(t.at({1, 0}) == -1.0f);

  Tensor tr = t.transpose(0, 1);
  REQUIRE(tr.shape() == Shape{3, 2});
  REQUIRE_FALSE(tr.is_contiguous());
  REQUIRE(tr.at({2, 1}) == 5.0f);
  Tensor c = tr.contiguous();
  REQUIRE(c.is_contiguous());
  REQUIRE(c.to_vector() == std::vector<float>{42, -1, 1, 4, 2, 5});
}

TEST_CASE("clone is a deep copy, detach shares storage", "[tensor]") {
  Tensor t = Tensor::ones({4});
  Tensor c = t.clone();
  c.fill_(2.0f);
  REQUIRE(t.to_vector()[0] == 1.0f);
  Tensor d = t.detach();
  d.fill_(3.0f);
  REQUIRE(t.to_vector()[0] == 3.0f);
}

TEST_CASE("bad shapes give errors naming the shapes", "[tensor][errors]") {
  Tensor t = Tensor::zeros({2, 3});
  REQUIRE_THROWS_WITH(t.view({4, 2}), Catch::Contains("[2, 3]") && Catch::Contains("[4, 2]"));
  REQUIRE_THROWS_WITH(t.slice(1, 5), Catch::Contains("out of range"));
  REQUIRE_THROWS_WITH(t.item(), Catch::Contains("one element"));
  REQUIRE_THROWS_WITH(t.data_i64(), Catch::Contains("int64"));
  REQUIRE_THROWS_WITH(Tensor::from_vector({2, 2}, {1, 2, 3}), Catch::Contains("needs 4"));
  Tensor undefined;
  REQUIRE_THROWS_WITH(undefined.shape(), Catch::Contains("undefined"));
  REQUIRE_THROWS(Tensor::zeros({2}).copy_(Tensor::zeros({3})));
}

TEST_CASE("seeded generators are reproducible and restorable", "[tensor][random]") {
  Generator a(7), b(7);
  REQUIRE(rand({5}, a).to_vector() == rand({5}, b).to_vector());
  std::string state = a.state();
  std::vector<float> first = randn({8}, a).to_vector();
  a.set_state(state);
  REQUIRE(randn({8}, a).to_vector() == first);
  REQUIRE_THROWS(a.set_state("not a state"));
}

TEST_CASE("initialisers follow torch.nn.init's bounds and spreads", "[tensor][random]") {
  Generator gen(0);
  Tensor w = Tensor::empty({64, 32, 3, 3});  // fan_in 288, fan_out 576
  REQUIRE(fan_in(w.shape()) == 288);
  REQUIRE(fan_out(w.shape()) == 576);
  kaiming_uniform_(w, gen, std::sqrt(5.0f));  // PyTorch's Conv2d default
  float bound = std::sqrt(6.0f / ((1 + 5.0f) * 288));
  double sq = 0;
  for (float v : w.to_vector()) {
    REQUIRE(std::fabs(v) <= bound);
    sq += v * v;
  }
  double var = sq / w.numel();
  REQUIRE(var == Approx(bound * bound / 3).epsilon(0.05));

  kaiming_normal_(w, gen);
  sq = 0;
  for (float v : w.to_vector()) sq += v * v;
  REQUIRE(sq / w.numel() == Approx(2.0 / 288).epsilon(0.05));

  xavier_uniform_(w, gen);
  float xb = std::sqrt(6.0f / (288 + 576));
  for (float v : w.to_vector()) REQUIRE(std::fabs(v) <= xb);
  xavier_normal_(w, gen);
  sq = 0;
  for (float v : w.to_vector()) sq += v * v;
  REQUIRE(sq / w.numel() == Approx(2.0 / (288 + 576)).epsilon(0.05));
}

TEST_CASE("printing shows shape, dtype and values", "[tensor]") {
  Tensor t = Tensor::from_vector({2, 2}, {1, 2, 3, 4});
  std::string s = t.to_string();
  REQUIRE_THAT(s, Catch::Contains("shape=[2, 2]") && Catch::Contains("float32") &&
                      Catch::Contains("3, 4"));
}

TEST_CASE("tensors over 32 MiB reuse a freed block of their size", "[tensor][memory]") {
  const Shape big{9, 1024, 1024};  // 36 MiB
  const float* first = nullptr;
  {
    Tensor t = Tensor::full(big, 1.0f);
    first = t.data();
  }
  Tensor again = Tensor::zeros(big);  // the pooled block, zeroed as asked
  REQUIRE(again.data() == first);
  REQUIRE(again.to_vector()[again.numel() - 1] == 0.0f);
  Tensor other = Tensor::full({10, 1024, 1024}, 2.0f);  // another size: a block of its own
  REQUIRE(other.data() != first);
  REQUIRE(other.data()[other.numel() - 1] == 2.0f);
  // Small tensors are unaffected (glibc's heap): a 1 KiB tensor works as before.
  REQUIRE(Tensor::full({256}, 3.0f).to_vector()[255] == 3.0f);
}
