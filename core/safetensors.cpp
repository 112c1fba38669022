// safetensors writer and strict reader. The JSON header is written and parsed with
// nlohmann::json; the reader checks its structure event by event (HeaderReader), then every
// offset against the data section.
#include "core/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"

namespace cnn {

static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian data; cnnlab copies bytes as they are in memory");

namespace {

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

const char* safetensors_dtype(DType dtype) { return dtype == DType::Float32 ? "F32" : "I64"; }

// The JSON header, already padded with spaces so that 8 + its length is a multiple of 8
// (which keeps the data section 8-byte aligned in a memory-mapped file). Compact, with
// __metadata__ first and the tensors in the given order (ordered_json keeps insertion order).
std::string build_header(const std::vector<NamedTensor>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  std::set<std::string> names;
  for (const auto& [name, tensor] : tensors) {
    CNN_CHECK(!name.empty(), "save_safetensors: a tensor has an empty name");
    CNN_CHECK(
        name != "__metadata__",
        "save_safetensors: '__metadata__' is reserved by the format and cannot name a tensor");
    CNN_CHECK(names.insert(name).second, "save_safetensors: tensor name '", name,
              "' appears twice; names must be unique");
    CNN_CHECK(tensor.defined(), "save_safetensors: tensor '", name, "' is undefined");
  }

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    uint64_t bytes = static_cast<uint64_t>(tensor.numel()) * dtype_size(tensor.dtype());
    nlohmann::ordered_json& entry = header[name];
    entry["dtype"] = safetensors_dtype(tensor.dtype());
    entry["shape"] = tensor.shape();
    entry["data_offsets"] = {offset, offset + bytes};
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::ordered_json::type_error& e) {  // a name that is not UTF-8
    CNN_FAIL("save_safetensors: tensor names and metadata must be valid UTF-8 (", e.what(), ")");
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

void write_safetensors(std::ostream& out, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::string header = build_header(tensors, metadata);
  unsigned char length[8];
  uint64_t header_length = header.size();
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(header_length >> (8 * i));
  out.write(reinterpret_cast<const char*>(length), 8);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  for (const auto& [name, tensor] : tensors) {
    Tensor dense = tensor.contiguous();
    const char* data = dense.dtype() == DType::Float32
                           ? reinterpret_cast<const char*>(dense.data())
                           : reinterpret_cast<const char*>(dense.data_i64());
    out.write(data, static_cast<std::streamsize>(dense.numel() * dtype_size(dense.dtype())));
  }
}

// ---------------------------------------------------------------------------------------------
// Reading: the header, through nlohmann's SAX parser
// ---------------------------------------------------------------------------------------------

struct TensorEntry {
  std::string name;
  std::string dtype;
  Shape shape;
  std::vector<int64_t> offsets;
  size_t header_position = 0;  // for a stable order among empty tensors at the same offset
};

// nlohmann parses the JSON (syntax, escapes, surrogates, UTF-8); this handler checks each
// event as it arrives against the format's three fixed levels (header object -> entry object
// -> integer array). SAX rather than a parsed json value because a value keeps only the last
// of duplicate keys (a tensor named twice must be refused), cannot tell 1e3 from 1000, and
// would first build any nesting a corrupt header holds; here anything deeper is refused at
// its first bracket. Errors are thrown from the handler as cnn::Error.
class HeaderReader {
 public:
  HeaderReader(const std::string& source, std::vector<TensorEntry>& entries,
               std::map<std::string, std::string>& metadata)
      : source_(source), entries_(entries), metadata_(metadata) {}

  void read(std::string_view text) {
    nlohmann::json::sax_parse(text.data(), text.data() + text.size(), this,
                              nlohmann::json::input_format_t::json, /*strict=*/true);
    if (state_ != State::done) malformed("the header ends early");  // not reached: strict parse
  }

  // ---- nlohmann's SAX interface (json_sax); returning true continues the parse.
  bool null() { wrong_value("null"); }
  bool boolean(bool) { wrong_value("a boolean"); }
  bool binary(nlohmann::json::binary_t&) { wrong_value("binary data"); }
  bool number_integer(int64_t value) { return integer(value); }
  bool number_unsigned(uint64_t value) {
    if (state_ == State::integers && value > static_cast<uint64_t>(INT64_MAX))
      bad_tensor("\"" + field_ + "\" holds " + std::to_string(value) +
                 ": integer too large (more than int64 holds)");
    return integer(static_cast<int64_t>(value));
  }
  bool number_float(double, const std::string& text) {
    if (state_ != State::integers) wrong_value("a number");
    // nlohmann falls back to a double for integers beyond 64 bits too; the text tells them apart.
    if (text.find_first_of(".eE") == std::string::npos)
      bad_tensor("\"" + field_ + "\" holds " + text +
                 ": integer too large (more than int64 holds)");
    bad_tensor("\"" + field_ + "\" holds " + text +
               ": expected an integer, found a fractional number");
  }
  bool string(std::string& value) {
    if (state_ == State::metadata_string) {
      metadata_[key_] = std::move(value);  // key() refused a repeated key
      state_ = State::metadata;
    } else if (state_ == State::dtype) {
      entries_.back().dtype = std::move(value);
      state_ = State::entry;
    } else {
      wrong_value("a string");
    }
    return true;
  }
  bool start_object(size_t) {
    if (state_ == State::top)
      state_ = State::header;
    else if (state_ == State::metadata_value)
      state_ = State::metadata;
    else if (state_ == State::entry_value)
      state_ = State::entry;
    else
      wrong_value("an object");
    return true;
  }
  bool start_array(size_t) {
    if (state_ != State::shape && state_ != State::offsets) wrong_value("an array");
    state_ = State::integers;
    return true;
  }
  bool end_array() {  // the only arrays accepted are an entry's integer arrays
    state_ = State::entry;
    return true;
  }
  bool key(std::string& key) {
    if (state_ == State::header) {
      if (key == "__metadata__") {
        if (seen_metadata_) malformed("'__metadata__' appears twice");
        seen_metadata_ = true;
        state_ = State::metadata_value;
      } else {
        // As save_safetensors refuses to write one, so that every file read can be written.
        if (key.empty())
          CNN_FAIL("safetensors file '", source_,
                   "': a tensor has an empty name; cnnlab names every tensor");
        if (!names_.insert(key).second)
          CNN_FAIL("safetensors file '", source_, "': tensor '", key,
                   "' appears twice in the header");
        entries_.push_back({key, "", {}, {}, entries_.size()});
        fields_seen_.clear();
        state_ = State::entry_value;
      }
    } else if (state_ == State::metadata) {
      if (metadata_.count(key)) malformed("'__metadata__' key '" + key + "' appears twice");
      key_ = key;
      state_ = State::metadata_string;
    } else {  // State::entry
      if (key != "dtype" && key != "shape" && key != "data_offsets")
        bad_tensor("unknown field \"" + key + "\" (expected only dtype, shape and data_offsets)");
      if (!fields_seen_.insert(key).second) bad_tensor("field \"" + key + "\" appears twice");
      field_ = key;
      state_ = key == "dtype" ? State::dtype : key == "shape" ? State::shape : State::offsets;
    }
    return true;
  }
  bool end_object() {
    if (state_ == State::header) {
      state_ = State::done;
    } else if (state_ == State::metadata) {
      state_ = State::header;
    } else {  // State::entry
      for (const char* field : {"dtype", "shape", "data_offsets"})
        if (!fields_seen_.count(field)) bad_tensor(std::string("missing field \"") + field + "\"");
      state_ = State::header;
    }
    return true;
  }
  bool parse_error(size_t position, const std::string&, const nlohmann::json::exception& e) {
    // nlohmann counts the bytes read, the offending one included; the byte named here is
    // 0-based. Its message reads "[json.exception.parse_error.101] parse error at line 1,
    // column 6: syntax error while parsing object separator - unexpected '{'; expected ':'":
    // keep what follows the position, with what was expected first.
    std::string problem = e.what();
    size_t column = problem.find(", column ");
    size_t colon = problem.find(": ", column == std::string::npos ? 0 : column);
    if (colon != std::string::npos) problem = problem.substr(colon + 2);
    if (problem.rfind("syntax error ", 0) == 0) problem = problem.substr(13);
    size_t expected = problem.rfind("; expected ");
    if (expected != std::string::npos)
      problem = problem.substr(expected + 2) + " (" + problem.substr(0, expected) + ")";
    CNN_FAIL("safetensors file '", source_, "': malformed header JSON at header byte ",
             position > 0 ? position - 1 : 0, ": ", problem);
  }

 private:
  // Where the parse is: the value expected next, or the object whose next key is expected.
  enum class State {
    top,              // the header value, which must be an object
    header,           // a key of the header object: "__metadata__" or a tensor name
    metadata_value,   // the value of "__metadata__", an object
    metadata,         // a key of __metadata__
    metadata_string,  // the value of that key, a string
    entry_value,      // a tensor's entry, an object
    entry,            // a key of that entry
    dtype,            // the value of "dtype", a string
    shape,            // the value of "shape", an array
    offsets,          // the value of "data_offsets", an array
    integers,         // an element of shape or data_offsets, or its end
    done,
  };

  bool integer(int64_t value) {
    if (state_ != State::integers) wrong_value("a number");
    // Bounded by the header size: each element takes at least two bytes.
    std::vector<int64_t>& values =
        field_ == "shape" ? entries_.back().shape : entries_.back().offsets;
    values.push_back(value);
    return true;
  }

  // A value of the wrong kind (`found`) where the state expects another.
  [[noreturn]] void wrong_value(const std::string& found) {
    switch (state_) {
      case State::top:
        malformed("the header must be a JSON object, found " + found);
      case State::metadata_value:
        malformed("'__metadata__' must be an object of strings, found " + found);
      case State::metadata_string:
        malformed("'__metadata__' value of '" + key_ + "' must be a string, found " + found);
      case State::entry_value:
        bad_tensor("its header entry must be an object, found " + found);
      case State::dtype:
        bad_tensor("\"dtype\" must be a string, found " + found);
      case State::shape:
        bad_tensor("\"shape\" must be an array of integers, found " + found);
      case State::offsets:
        bad_tensor("\"data_offsets\" must be an array of two integers, found " + found);
      default:  // State::integers (objects and arrays inside it)
        bad_tensor("\"" + field_ + "\" must hold integers only, found " + found);
    }
  }
  [[noreturn]] void malformed(const std::string& problem) const {
    CNN_FAIL("safetensors file '", source_, "': malformed header JSON: ", problem);
  }
  [[noreturn]] void bad_tensor(const std::string& problem) const {
    CNN_FAIL("safetensors file '", source_, "': tensor '", entries_.back().name, "': ", problem);
  }

  const std::string& source_;
  std::vector<TensorEntry>& entries_;
  std::map<std::string, std::string>& metadata_;
  State state_ = State::top;
  bool seen_metadata_ = false;
  std::set<std::string> names_;        // tensor names so far
  std::set<std::string> fields_seen_;  // of the current entry
  std::string key_;                    // the current __metadata__ key
  std::string field_;                  // the current entry field
};

std::optional<DType> supported_dtype(const std::string& name) {
  if (name == "F32") return DType::Float32;
  if (name == "I64") return DType::Int64;
  return std::nullopt;
}

bool is_known_safetensors_dtype(const std::string& name) {
  static const std::set<std::string> known = {"BOOL", "U8",  "I8",  "F8_E5M2", "F8_E4M3",
                                              "I16",  "U16", "F16", "BF16",    "I32",
                                              "U32",  "F32", "F64", "I64",     "U64"};
  return known.count(name) > 0;
}

}  // namespace

std::string serialize_safetensors(const std::vector<NamedTensor>& tensors,
                                  const std::map<std::string, std::string>& metadata) {
  std::ostringstream out;
  write_safetensors(out, tensors, metadata);
  return out.str();
}

void save_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  build_header(tensors, metadata);  // validate names before creating any file
  write_file_atomically(
      path, [&](std::ostream& out) { write_safetensors(out, tensors, metadata); }, "checkpoint");
}

SafetensorsFile load_safetensors(const std::string& path) {
  return parse_safetensors(read_file(path, "checkpoint"), path);
}

SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& source) {
  auto fail = [&](const auto&... parts) -> void {
    CNN_FAIL("safetensors file '", source, "': ", parts...);
  };
  if (bytes.size() < 8)
    fail("the file is ", bytes.size(),
         " bytes long, shorter than the 8-byte header length; it is truncated or not a "
         "safetensors file");
  uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i)
    header_length =
        (header_length << 8) | static_cast<unsigned char>(bytes[static_cast<size_t>(i)]);
  if (header_length > kSafetensorsMaxHeaderBytes)
    fail("header length ", header_length, " bytes is larger than the ", kSafetensorsMaxHeaderBytes,
         "-byte limit; the file is corrupt or not safetensors");
  if (header_length > bytes.size() - 8)
    fail("header length ", header_length, " bytes runs past the end of the file (", bytes.size(),
         " bytes); the file is truncated");

  std::string_view header = bytes.substr(8, header_length);
  std::string_view data = bytes.substr(8 + header_length);
  const uint64_t data_size = data.size();

  SafetensorsFile file;
  std::vector<TensorEntry> entries;
  HeaderReader(source, entries, file.metadata).read(header);

  // Per-tensor checks: dtype, shape, and offsets that agree with the shape.
  for (const TensorEntry& entry : entries) {
    auto bad = [&](const auto&... parts) -> void {
      CNN_FAIL("safetensors file '", source, "': tensor '", entry.name, "': ", parts...);
    };
    std::optional<DType> dtype = supported_dtype(entry.dtype);
    if (!dtype) {
      if (is_known_safetensors_dtype(entry.dtype))
        bad("dtype '", entry.dtype,
            "' is not supported; cnnlab reads F32 and I64 only "
            "(convert it before saving, e.g. tensor.float() in PyTorch)");
      bad("unknown dtype '", entry.dtype, "'; cnnlab reads F32 and I64 only");
    }
    // Overflow is checked on the product of the non-zero dims too, since strides use it.
    uint64_t bytes_needed = dtype_size(*dtype);
    bool has_zero_dim = false;
    for (int64_t d : entry.shape) {
      if (d < 0) bad("negative dimension in shape ", shape_str(entry.shape));
      if (d == 0) has_zero_dim = true;
      if (__builtin_mul_overflow(bytes_needed, static_cast<uint64_t>(std::max<int64_t>(d, 1)),
                                 &bytes_needed) ||
          bytes_needed > static_cast<uint64_t>(INT64_MAX))
        bad("shape ", shape_str(entry.shape), " is too large to address");
    }
    if (has_zero_dim) bytes_needed = 0;
    if (entry.offsets.size() != 2)
      bad("\"data_offsets\" must hold exactly two integers [begin, end], found ",
          entry.offsets.size());
    int64_t begin = entry.offsets[0], end = entry.offsets[1];
    if (begin < 0 || end < 0) bad("negative data offsets [", begin, ", ", end, "]");
    if (end < begin) bad("data offsets [", begin, ", ", end, "] end before they begin");
    if (static_cast<uint64_t>(end) > data_size)
      bad("data offsets [", begin, ", ", end, "] run past the end of the data section (", data_size,
          " bytes); the file is truncated or corrupt");
    if (static_cast<uint64_t>(end - begin) != bytes_needed)
      bad("data offsets [", begin, ", ", end, "] span ", end - begin, " bytes but ", entry.dtype,
          " shape ", shape_str(entry.shape), " needs ", bytes_needed, " bytes");
  }

  // The tensors must tile the data section exactly: no gaps, no overlaps, nothing after.
  std::vector<const TensorEntry*> ordered;
  for (const TensorEntry& entry : entries) ordered.push_back(&entry);
  std::stable_sort(ordered.begin(), ordered.end(), [](const TensorEntry* a, const TensorEntry* b) {
    return a->offsets[0] != b->offsets[0] ? a->offsets[0] < b->offsets[0]
                                          : a->offsets[1] < b->offsets[1];
  });
  int64_t expected_begin = 0;
  for (const TensorEntry* entry : ordered) {
    if (entry->offsets[0] != expected_begin)
      CNN_FAIL("safetensors file '", source, "': tensor '", entry->name, "': data offsets [",
               entry->offsets[0], ", ", entry->offsets[1], "] ",
               entry->offsets[0] < expected_begin ? "overlap the previous tensor"
                                                  : "leave a gap after the previous tensor",
               " (expected it to begin at ", expected_begin, ")");
    expected_begin = entry->offsets[1];
  }
  if (static_cast<uint64_t>(expected_begin) != data_size)
    fail("the tensors cover ", expected_begin, " bytes but the data section holds ", data_size,
         " bytes; the file has trailing or missing data");

  for (const TensorEntry* entry : ordered) {
    DType dtype = *supported_dtype(entry->dtype);
    Tensor tensor = Tensor::empty(entry->shape, dtype);
    size_t size = static_cast<size_t>(entry->offsets[1] - entry->offsets[0]);
    if (size > 0) {
      void* target = dtype == DType::Float32 ? static_cast<void*>(tensor.data())
                                             : static_cast<void*>(tensor.data_i64());
      std::memcpy(target, data.data() + entry->offsets[0], size);
    }
    file.tensors.emplace_back(entry->name, std::move(tensor));
  }
  return file;
}

}  // namespace cnn
