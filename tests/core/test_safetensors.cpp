// safetensors: round trips, the exact bytes written, the PyTorch-written fixture, and every
// kind of malformed file the reader must refuse (built byte by byte here).
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>

#include "core/atomic_file.h"
#include "core/safetensors.h"

using namespace cnn;
using Catch::Contains;

namespace {

// A fresh folder under /tmp, removed with everything in it at scope exit.
struct TemporaryFolder {
  std::string path;
  TemporaryFolder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "cnnlab_st_XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TemporaryFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

std::string le64(uint64_t value) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>(value >> (8 * i));
  return out;
}

// A file with the given header text (unpadded) and data bytes.
std::string file_with(const std::string& header, const std::string& data = "") {
  return le64(header.size()) + header + data;
}

std::string f32_bytes(std::initializer_list<float> values) {
  std::string out;
  for (float v : values) out.append(reinterpret_cast<const char*>(&v), sizeof v);
  return out;
}

void require_rejected(const std::string& bytes, const std::string& expected_part) {
  REQUIRE_THROWS_AS(parse_safetensors(bytes, "bad.safetensors"), Error);
  REQUIRE_THROWS_WITH(parse_safetensors(bytes, "bad.safetensors"),
                      Contains("'bad.safetensors'") && Contains(expected_part));
}

// A header object of the given (already JSON-quoted) keys and raw JSON values, in order.
std::string header_of(std::initializer_list<std::pair<std::string, std::string>> members) {
  std::string text = "{";
  for (const auto& [key, value] : members) {
    if (text.size() > 1) text += ",";
    text += key;
    text += ":";
    text += value;
  }
  text += "}";
  return text;
}

}  // namespace

TEST_CASE("safetensors round trip keeps F32, I64, scalar and empty tensors", "[safetensors]") {
  TemporaryFolder folder;
  std::string path = folder.path + "/checkpoint.safetensors";
  Tensor base = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  std::vector<NamedTensor> tensors = {
      {"conv.weight", base},
      {"transposed", base.transpose(0, 1)},  // a strided view is written contiguously
      {"labels", Tensor::from_int64({4}, {0, -1, INT64_MAX, INT64_MIN})},
      {"bn.num_batches_tracked", Tensor::from_int64({}, {42})},
      {"loss", Tensor::scalar(0.25f)},
      {"empty", Tensor::zeros({0, 3})},
  };
  std::map<std::string, std::string> metadata = {
      {"epoch", "3"}, {"note", "caf\xc3\xa9 \"quoted\" back\\slash\nnew line \x01"}};
  save_safetensors(path, tensors, metadata);

  SafetensorsFile loaded = load_safetensors(path);
  REQUIRE(loaded.metadata == metadata);
  REQUIRE(loaded.tensors.size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, tensor] = loaded.tensors[i];
    INFO(name);
    REQUIRE(name == tensors[i].first);
    REQUIRE(tensor.shape() == tensors[i].second.shape());
    REQUIRE(tensor.dtype() == tensors[i].second.dtype());
    if (tensor.dtype() == DType::Float32)
      REQUIRE(tensor.to_vector() == tensors[i].second.to_vector());
    else
      REQUIRE(tensor.to_int64_vector() == tensors[i].second.to_int64_vector());
  }
  REQUIRE(loaded.tensors[1].second.to_vector() == std::vector<float>{1, 4, 2, 5, 3, 6});
  REQUIRE(loaded.tensors[3].second.shape().empty());
}

TEST_CASE("safetensors without metadata loads an empty metadata map", "[safetensors]") {
  std::string bytes = serialize_safetensors({{"w", Tensor::from_vector({2}, {1, 2})}});
  SafetensorsFile loaded = parse_safetensors(bytes, "memory");
  REQUIRE(loaded.metadata.empty());
  REQUIRE(loaded.tensors.size() == 1);
  REQUIRE(serialize_safetensors({}, {}) == le64(8) + "{}      ");
  REQUIRE(parse_safetensors(serialize_safetensors({}, {}), "memory").tensors.empty());
}

TEST_CASE("safetensors header bytes are exactly the format's", "[safetensors]") {
  std::string bytes = serialize_safetensors({{"a", Tensor::from_vector({2}, {1.0f, 2.0f})}});
  std::string header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}  ";
  REQUIRE(header.size() % 8 == 0);
  REQUIRE(bytes == le64(header.size()) + header + f32_bytes({1.0f, 2.0f}));

  std::string with_metadata = serialize_safetensors(
      {{"w", Tensor::scalar(0.5f)}, {"n", Tensor::from_int64({1, 2}, {3, -4})}}, {{"k", "v"}});
  std::string expected_header =
      "{\"__metadata__\":{\"k\":\"v\"},"
      "\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
      "\"n\":{\"dtype\":\"I64\",\"shape\":[1,2],\"data_offsets\":[4,20]}}  ";
  std::string data = f32_bytes({0.5f});
  int64_t ints[2] = {3, -4};
  data.append(reinterpret_cast<const char*>(ints), sizeof ints);
  REQUIRE(with_metadata == le64(expected_header.size()) + expected_header + data);
  REQUIRE(with_metadata.substr(0, 8) == std::string("\x88\0\0\0\0\0\0\0", 8));  // 136, LE
}

TEST_CASE("safetensors writer refuses bad names", "[safetensors]") {
  Tensor t = Tensor::zeros({1});
  REQUIRE_THROWS_WITH(serialize_safetensors({{"a", t}, {"a", t}}), Contains("'a' appears twice"));
  REQUIRE_THROWS_WITH(serialize_safetensors({{"__metadata__", t}}), Contains("reserved"));
  REQUIRE_THROWS_WITH(serialize_safetensors({{"", t}}), Contains("empty name"));
  REQUIRE_THROWS_WITH(serialize_safetensors({{"u", Tensor()}}), Contains("'u' is undefined"));
}

TEST_CASE("safetensors reads the file PyTorch tensors were written to", "[safetensors]") {
  // Written by tests/fixtures/make_safetensors_fixture.py: Python's separators and \u escapes,
  // header keys in another order than the data, metadata last.
  SafetensorsFile file = load_safetensors(CNNLAB_FIXTURES_DIR "/safetensors_torch.safetensors");
  REQUIRE(file.metadata.at("format") == "pt");
  REQUIRE(file.metadata.at("note") == "caf\xc3\xa9 \xe2\x9c\x93 \"quoted\"\nline two");
  REQUIRE(file.tensors.size() == 5);
  std::vector<std::string> names;
  for (const auto& [name, tensor] : file.tensors) names.push_back(name);
  REQUIRE(names == std::vector<std::string>{"conv.weight", "bn.running_var",
                                            "bn.num_batches_tracked", "labels", "empty"});
  const Tensor& weight = file.tensors[0].second;
  REQUIRE(weight.shape() == Shape{2, 3, 3, 3});
  std::vector<float> values = weight.to_vector();
  for (size_t i = 0; i < values.size(); ++i) REQUIRE(values[i] == (float(i) - 27.0f) / 8.0f);
  REQUIRE(file.tensors[1].second.to_vector() == std::vector<float>{1.0f, 1.25f, 1.5f});
  REQUIRE(file.tensors[2].second.shape().empty());
  REQUIRE(file.tensors[2].second.dtype() == DType::Int64);
  REQUIRE(file.tensors[2].second.to_int64_vector() == std::vector<int64_t>{7});
  REQUIRE(file.tensors[3].second.to_int64_vector() ==
          std::vector<int64_t>{0, -1, 9, (int64_t(1) << 40) + 3});
  REQUIRE(file.tensors[4].second.shape() == Shape{0, 3});
}

TEST_CASE("safetensors rejects truncated files and bad header lengths", "[safetensors]") {
  require_rejected("", "0 bytes long, shorter than the 8-byte header length");
  require_rejected("abc", "3 bytes long");
  require_rejected(le64(100) + "{}", "header length 100 bytes runs past the end of the file");
  require_rejected(le64(uint64_t(1) << 63) + "{}", "larger than the");
  require_rejected(le64(~uint64_t(0)), "larger than the");
  require_rejected(le64(0), "malformed header JSON");
}

TEST_CASE("safetensors rejects malformed header JSON", "[safetensors]") {
  const char* cases[] = {
      "{",
      "[]",
      "{\"a\":}",
      "{\"a\" {}}",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,0]},}",
      "{\"a",
      "{\"a\\q\":{}}",
      "{\"a\\u12\":{}}",
      "{\"a\\ud800\":{}}",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,],\"data_offsets\":[0,4]}}",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}",
      "{} x",
      "{}{}",
      "{\"a\tb\":{}}",
      "{\"__metadata__\":{\"k\":1}}",
      "{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}",
      "{\"__metadata__\":{},\"__metadata__\":{}}",
      "{\"__metadata__\":[]}",
  };
  for (const char* header : cases) {
    INFO(header);
    REQUIRE_THROWS_AS(parse_safetensors(file_with(header), "bad.safetensors"), Error);
  }
  require_rejected(file_with("{\"a\" {}}"), "malformed header JSON at header byte 5: expected ':'");
  require_rejected(file_with("{\"__metadata__\":{\"k\":1}}"), "value of 'k' must be a string");
  // Whitespace around and inside the header is fine (Python's json.dumps adds it).
  REQUIRE(parse_safetensors(file_with(" \n{ \"__metadata__\" : { } }\t  "), "ok").tensors.empty());
}

TEST_CASE("safetensors rejects tensor entries with missing or bad fields", "[safetensors]") {
  std::string four = f32_bytes({1.0f});
  require_rejected(file_with("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", four),
                   "tensor 'w': missing field \"dtype\"");
  require_rejected(file_with("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", four),
                   "tensor 'w': missing field \"shape\"");
  require_rejected(file_with("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", four),
                   "tensor 'w': missing field \"data_offsets\"");
  require_rejected(file_with("{\"w\":[]}", four), "tensor 'w': its header entry must be an object");
  require_rejected(file_with("{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", four),
                   "tensor 'w': \"dtype\" must be a string");
  require_rejected(
      file_with(
          "{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
          four),
      "tensor 'w': field \"dtype\" appears twice");
  require_rejected(
      file_with("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":[]}}", four),
      "tensor 'w': unknown field \"x\"");
  require_rejected(
      file_with("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", four),
      "tensor 'w': \"data_offsets\" must hold exactly two integers");
  require_rejected(
      file_with("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", four),
      "exactly two integers");
}

TEST_CASE("safetensors rejects unsupported dtypes, naming them", "[safetensors]") {
  std::string two(2, '\0');
  require_rejected(
      file_with("{\"h\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}", two),
      "tensor 'h': dtype 'F16' is not supported; cnnlab reads F32 and I64 only");
  require_rejected(
      file_with("{\"h\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]}}", two),
      "dtype 'BF16' is not supported");
  require_rejected(file_with("{\"h\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]}}",
                             std::string(8, 0)),
                   "dtype 'F64' is not supported");
  require_rejected(
      file_with("{\"h\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,2]}}", two),
      "tensor 'h': unknown dtype 'Q7'");
}

TEST_CASE("safetensors rejects offsets and shapes that disagree", "[safetensors]") {
  std::string eight = f32_bytes({1.0f, 2.0f});
  std::string twelve = f32_bytes({1.0f, 2.0f, 3.0f});
  auto entry = [](const std::string& name, const std::string& shape, int64_t begin, int64_t end) {
    // Built with += (GCC 12 gives a false -Wrestrict warning on "literal" + std::string).
    std::string text = "\"";
    text += name;
    text += "\":{\"dtype\":\"F32\",\"shape\":";
    text += shape;
    text += ",\"data_offsets\":[";
    text += std::to_string(begin);
    text += ",";
    text += std::to_string(end);
    text += "]}";
    return text;
  };
  auto object = [](std::initializer_list<std::string> entries) {
    std::string text = "{";
    for (const std::string& e : entries) {
      if (text.size() > 1) text += ",";
      text += e;
    }
    text += "}";
    return text;
  };
  // Outside the data section.
  require_rejected(
      file_with(object({entry("w", "[2]", 0, 8)}), f32_bytes({1.0f})),
      "tensor 'w': data offsets [0, 8] run past the end of the data section (4 bytes)");
  // End before begin.
  require_rejected(file_with(object({entry("w", "[1]", 8, 4)}), twelve),
                   "tensor 'w': data offsets [8, 4] end before they begin");
  require_rejected(file_with(object({entry("w", "[1]", -4, 0)}), eight),
                   "tensor 'w': negative data offsets");
  // Size disagrees with the shape.
  require_rejected(file_with(object({entry("w", "[3]", 0, 8)}), eight),
                   "tensor 'w': data offsets [0, 8] span 8 bytes but F32 shape [3] needs 12 bytes");
  // Overlap, gap, first not at 0, trailing bytes.
  require_rejected(file_with(object({entry("a", "[2]", 0, 8), entry("b", "[2]", 4, 12)}), twelve),
                   "tensor 'b': data offsets [4, 12] overlap the previous tensor");
  require_rejected(file_with(object({entry("a", "[1]", 0, 4), entry("b", "[1]", 8, 12)}), twelve),
                   "tensor 'b': data offsets [8, 12] leave a gap");
  require_rejected(file_with(object({entry("a", "[1]", 4, 8)}), eight),
                   "tensor 'a': data offsets [4, 8] leave a gap after the previous tensor "
                   "(expected it to begin at 0)");
  require_rejected(file_with(object({entry("a", "[1]", 0, 4)}), eight),
                   "the tensors cover 4 bytes but the data section holds 8 bytes");
  // Duplicate names, negative and overflowing dims.
  require_rejected(file_with(object({entry("a", "[1]", 0, 4), entry("a", "[1]", 4, 8)}), eight),
                   "tensor 'a' appears twice in the header");
  require_rejected(file_with(object({entry("a", "[-1]", 0, 4)}), f32_bytes({1.0f})),
                   "tensor 'a': negative dimension in shape [-1]");
  require_rejected(
      file_with(object({entry("a", "[4611686018427387904,4]", 0, 4)}), f32_bytes({1.0f})),
      "tensor 'a': shape [4611686018427387904, 4] is too large to address");
  // Tensors listed out of offset order are fine, and come back in offset order.
  SafetensorsFile file = parse_safetensors(
      file_with(object({entry("b", "[1]", 4, 8), entry("a", "[1]", 0, 4)}), eight), "ok");
  REQUIRE(file.tensors[0].first == "a");
  REQUIRE(file.tensors[1].second.to_vector() == std::vector<float>{2.0f});
}

// nlohmann::json keeps only the last of repeated keys; the reader sees every key as it is
// parsed (HeaderReader in core/safetensors.cpp), so a repeat is refused, however spelled.
TEST_CASE("safetensors refuses repeated tensor names and metadata keys, naming them",
          "[safetensors]") {
  const std::string first = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
  const std::string second = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}";
  const std::string eight = f32_bytes({1.0f, 2.0f});
  require_rejected(file_with(header_of({{"\"w\"", first}, {"\"w\"", second}}), eight),
                   "tensor 'w' appears twice in the header");
  // The same name through an escape, and apart, with metadata between.
  require_rejected(file_with(header_of({{"\"w\"", first}, {"\"\\u0077\"", second}}), eight),
                   "tensor 'w' appears twice in the header");
  require_rejected(
      file_with(header_of({{"\"w\"", first}, {"\"__metadata__\"", "{}"}, {"\"w\"", second}}),
                eight),
      "tensor 'w' appears twice in the header");
  require_rejected(file_with("{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}"),
                   "'__metadata__' key 'k' appears twice");
  require_rejected(file_with("{\"__metadata__\":{\"k\":\"v\",\"\\u006b\":\"v\"}}"),
                   "'__metadata__' key 'k' appears twice");
  require_rejected(file_with("{\"__metadata__\":{},\"__metadata__\":{}}"),
                   "'__metadata__' appears twice");
  // Distinct names that only look alike are fine.
  SafetensorsFile file =
      parse_safetensors(file_with(header_of({{"\"w\"", first}, {"\"w \"", second}}), eight), "ok");
  REQUIRE(file.tensors.size() == 2);
}

TEST_CASE("safetensors refuses nesting, numbers and values the format has no place for",
          "[safetensors]") {
  // Refused at the first bracket the format has no place for, before the rest is read.
  require_rejected(file_with(std::string(1000000, '[')),
                   "the header must be a JSON object, found an array");
  require_rejected(file_with(std::string("{\"w\":{\"shape\":") + std::string(1000000, '[')),
                   "tensor 'w': \"shape\" must hold integers only, found an array");
  require_rejected(file_with("{\"w\":{\"shape\":[{}]}}"),
                   "tensor 'w': \"shape\" must hold integers only, found an object");
  require_rejected(file_with("{\"__metadata__\":{\"k\":{\"deeper\":{}}}}"),
                   "'__metadata__' value of 'k' must be a string, found an object");
  require_rejected(file_with("{\"__metadata__\":[]}"),
                   "'__metadata__' must be an object of strings, found an array");
  for (const char* header : {"[]", "5", "\"text\"", "null", "true"}) {
    INFO(header);
    require_rejected(file_with(header), "the header must be a JSON object");
  }
  require_rejected(file_with("{\"w\":null}"), "tensor 'w': its header entry must be an object");
  require_rejected(file_with("{\"w\":{\"dtype\":[\"F32\"]}}"),
                   "tensor 'w': \"dtype\" must be a string, found an array");
  require_rejected(file_with("{\"w\":{\"data_offsets\":{}}}"),
                   "tensor 'w': \"data_offsets\" must be an array of two integers");

  // Integers only, each within int64 (nlohmann reads larger ones as doubles).
  auto with_shape = [](const std::string& shape) {
    return file_with(header_of({{"\"w\"", std::string("{\"dtype\":\"F32\",\"shape\":") + shape +
                                              ",\"data_offsets\":[0,4]}"}}),
                     f32_bytes({1.0f}));
  };
  require_rejected(with_shape("[99999999999999999999]"),
                   "tensor 'w': \"shape\" holds 99999999999999999999: integer too large");
  require_rejected(with_shape("[9223372036854775808]"), "integer too large");   // INT64_MAX + 1
  require_rejected(with_shape("[-9223372036854775809]"), "integer too large");  // INT64_MIN - 1
  require_rejected(with_shape("[-9223372036854775808]"), "negative dimension");
  require_rejected(with_shape("[1.5]"),
                   "holds 1.5: expected an integer, found a fractional number");
  require_rejected(with_shape("[1e0]"), "holds 1e0: expected an integer");
  require_rejected(with_shape("[1.0]"), "holds 1.0: expected an integer");
  require_rejected(with_shape("[true]"), "\"shape\" must hold integers only, found a boolean");
  require_rejected(with_shape("[01]"), "malformed header JSON at header byte");
  REQUIRE(parse_safetensors(with_shape("[1]"), "ok").tensors.size() == 1);
  REQUIRE(parse_safetensors(with_shape(" [ 1 ] "), "ok").tensors.size() == 1);
}

TEST_CASE("safetensors names the file and the header byte of a JSON syntax error",
          "[safetensors]") {
  require_rejected(file_with("{\"a\":"), "malformed header JSON at header byte 5: ");
  require_rejected(file_with("{\"a\\q\":{}}"), "malformed header JSON at header byte 4: ");
  require_rejected(file_with("{} x"), "malformed header JSON at header byte 3: ");
  // UTF-8 only, as in the reference implementation (its header is a Rust str).
  require_rejected(file_with("{\"\xff\":{}}"), "malformed header JSON at header byte 2: ");
  REQUIRE_THROWS_WITH(serialize_safetensors({{"\xff", Tensor::zeros({1})}}),
                      Contains("must be valid UTF-8"));
  REQUIRE_THROWS_WITH(serialize_safetensors({{"w", Tensor::zeros({1})}}, {{"k", "\xc3"}}),
                      Contains("must be valid UTF-8"));
}

TEST_CASE("safetensors reader never crashes on truncated or mutated files", "[safetensors]") {
  // A quick in-test fuzz: every prefix, and random byte edits, either parse or throw Error.
  std::string valid = serialize_safetensors(
      {{"w", Tensor::from_vector({2, 2}, {1, 2, 3, 4})}, {"n", Tensor::from_int64({}, {5})}},
      {{"k", "v"}});
  for (size_t length = 0; length < valid.size(); ++length) {
    INFO(length);
    REQUIRE_THROWS_AS(parse_safetensors(valid.substr(0, length), "prefix"), Error);
  }
  std::mt19937 rng(1234);
  int parsed = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string bytes = valid;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t at = rng() % bytes.size();
      switch (rng() % 3) {
        case 0:
          bytes[at] = static_cast<char>(rng());
          break;
        case 1:
          bytes.erase(at, 1);
          break;
        default:
          bytes.insert(at, 1, "{}[],:\"0123456789-\\ u"[rng() % 21]);
          break;
      }
    }
    try {
      parse_safetensors(bytes, "mutated");
      ++parsed;
    } catch (const Error&) {
    }
  }
  REQUIRE(parsed < 3000);
}

TEST_CASE("safetensors load and save name the path when the file system fails", "[safetensors]") {
  TemporaryFolder folder;
  REQUIRE_THROWS_WITH(load_safetensors(folder.path + "/missing.safetensors"),
                      Contains("cannot read checkpoint '" + folder.path +
                               "/missing.safetensors': No such file or directory"));
  std::string path = folder.path + "/no/such/folder/x.safetensors";
  REQUIRE_THROWS_WITH(
      save_safetensors(path, {{"w", Tensor::zeros({1})}}),
      Contains("cannot write checkpoint '" + path + "': No such file or directory"));
  // A previous checkpoint survives a failed save (here: a name that cannot be written).
  std::string good = folder.path + "/good.safetensors";
  save_safetensors(good, {{"w", Tensor::ones({2})}});
  REQUIRE_THROWS(save_safetensors(good, {{"w", Tensor::ones({2})}, {"w", Tensor::ones({2})}}));
  REQUIRE(load_safetensors(good).tensors.at(0).second.to_vector() == std::vector<float>{1, 1});
}
