// safetensors writer and strict reader. The header parser below is a small JSON parser for
// exactly what the format needs (objects, strings with escapes, integer arrays); every read is
// bounds-checked against the header, and every offset against the data section.
#include "core/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstring>
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

void append_json_string(std::string& out, const std::string& text) {
  out += '"';
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out += static_cast<char>(c);  // UTF-8 passes through unchanged
        }
    }
  }
  out += '"';
}

// The JSON header, already padded with spaces so that 8 + its length is a multiple of 8
// (which keeps the data section 8-byte aligned in a memory-mapped file).
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

  std::string header = "{";
  bool first = true;
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    for (const auto& [key, value] : metadata) {
      if (!first) header += ',';
      first = false;
      append_json_string(header, key);
      header += ':';
      append_json_string(header, value);
    }
    header += '}';
    first = false;
  }
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (!first) header += ',';
    first = false;
    uint64_t bytes = static_cast<uint64_t>(tensor.numel()) * dtype_size(tensor.dtype());
    append_json_string(header, name);
    header += ":{\"dtype\":\"";
    header += safetensors_dtype(tensor.dtype());
    header += "\",\"shape\":[";
    for (size_t d = 0; d < tensor.shape().size(); ++d) {
      if (d) header += ',';
      header += std::to_string(tensor.shape()[d]);
    }
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');
  return header;
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
// Reading: the header parser
// ---------------------------------------------------------------------------------------------

struct TensorEntry {
  std::string name;
  std::string dtype;
  Shape shape;
  std::vector<int64_t> offsets;
  size_t header_position = 0;  // for a stable order among empty tensors at the same offset
};

class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  // Fills `entries` and `metadata` from the whole header.
  void parse(std::vector<TensorEntry>& entries, std::map<std::string, std::string>& metadata) {
    std::set<std::string> seen;
    bool seen_metadata = false;
    skip_whitespace();
    expect('{', "the header must be a JSON object");
    skip_whitespace();
    if (!consume('}')) {
      while (true) {
        skip_whitespace();
        std::string key = parse_string();
        skip_whitespace();
        expect(':', "expected ':' after a key");
        skip_whitespace();
        if (key == "__metadata__") {
          if (seen_metadata) malformed("'__metadata__' appears twice");
          seen_metadata = true;
          parse_metadata(metadata);
        } else {
          if (!seen.insert(key).second)
            CNN_FAIL("safetensors file '", source_, "': tensor '", key,
                     "' appears twice in the header");
          entries.push_back(parse_tensor(key));
          entries.back().header_position = entries.size() - 1;
        }
        skip_whitespace();
        if (consume(',')) continue;
        expect('}', "expected ',' or '}' after a header entry");
        break;
      }
    }
    skip_whitespace();  // the writer pads with spaces
    if (pos_ != text_.size()) malformed("unexpected characters after the header object");
  }

 private:
  [[noreturn]] void malformed(const std::string& problem) const {
    CNN_FAIL("safetensors file '", source_, "': malformed header JSON at header byte ", pos_, ": ",
             problem);
  }
  [[noreturn]] void bad_tensor(const std::string& name, const std::string& problem) const {
    CNN_FAIL("safetensors file '", source_, "': tensor '", name, "': ", problem);
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  void skip_whitespace() {
    while (!at_end() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                         text_[pos_] == '\r'))
      ++pos_;
  }
  bool consume(char c) {
    if (!at_end() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c, const char* problem) {
    if (!consume(c))
      malformed(at_end() ? std::string(problem) + " (the header ends here)" : std::string(problem));
  }

  static void append_utf8(std::string& out, uint32_t code_point) {
    if (code_point < 0x80) {
      out += static_cast<char>(code_point);
    } else if (code_point < 0x800) {
      out += static_cast<char>(0xC0 | (code_point >> 6));
      out += static_cast<char>(0x80 | (code_point & 0x3F));
    } else if (code_point < 0x10000) {
      out += static_cast<char>(0xE0 | (code_point >> 12));
      out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code_point & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code_point >> 18));
      out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code_point & 0x3F));
    }
  }

  uint32_t parse_hex4() {
    if (text_.size() - pos_ < 4) malformed("truncated \\u escape");
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      value <<= 4;
      if (c >= '0' && c <= '9')
        value |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        value |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        value |= static_cast<uint32_t>(c - 'A' + 10);
      else
        malformed("invalid hex digit in a \\u escape");
    }
    return value;
  }

  std::string parse_string() {
    expect('"', "expected a string");
    std::string out;
    while (true) {
      if (at_end()) malformed("unterminated string");
      char c = text_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) malformed("control character inside a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_end()) malformed("unterminated escape");
      char escape = text_[pos_++];
      switch (escape) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t code = parse_hex4();
          if (code >= 0xD800 && code <= 0xDBFF) {  // high surrogate: a low one must follow
            if (!(consume('\\') && consume('u'))) malformed("unpaired surrogate in a \\u escape");
            uint32_t low = parse_hex4();
            if (low < 0xDC00 || low > 0xDFFF) malformed("unpaired surrogate in a \\u escape");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          } else if (code >= 0xDC00 && code <= 0xDFFF) {
            malformed("unpaired surrogate in a \\u escape");
          }
          append_utf8(out, code);
          break;
        }
        default:
          malformed(std::string("invalid escape '\\") + escape + "'");
      }
    }
  }

  // A JSON integer (no fraction, no exponent), which must fit in int64.
  int64_t parse_integer() {
    bool negative = consume('-');
    if (at_end() || peek() < '0' || peek() > '9') malformed("expected an integer");
    if (peek() == '0' && pos_ + 1 < text_.size() && text_[pos_ + 1] >= '0' &&
        text_[pos_ + 1] <= '9')
      malformed("leading zeros are not allowed in JSON numbers");
    uint64_t magnitude = 0;
    while (!at_end() && peek() >= '0' && peek() <= '9') {
      uint64_t digit = static_cast<uint64_t>(text_[pos_++] - '0');
      if (magnitude > (static_cast<uint64_t>(INT64_MAX) - digit) / 10)
        malformed("integer too large");
      magnitude = magnitude * 10 + digit;
    }
    if (peek() == '.' || peek() == 'e' || peek() == 'E')
      malformed("expected an integer, found a fractional number");
    return negative ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude);
  }

  std::vector<int64_t> parse_integer_array() {
    expect('[', "expected an array of integers");
    std::vector<int64_t> values;
    skip_whitespace();
    if (consume(']')) return values;
    while (true) {
      skip_whitespace();
      // Bounded by the header size: each element takes at least two bytes.
      values.push_back(parse_integer());
      skip_whitespace();
      if (consume(',')) continue;
      expect(']', "expected ',' or ']' in an array");
      return values;
    }
  }

  void parse_metadata(std::map<std::string, std::string>& metadata) {
    expect('{', "'__metadata__' must be an object of strings");
    skip_whitespace();
    if (consume('}')) return;
    while (true) {
      skip_whitespace();
      std::string key = parse_string();
      skip_whitespace();
      expect(':', "expected ':' after a key");
      skip_whitespace();
      if (peek() != '"') malformed("'__metadata__' value of '" + key + "' must be a string");
      std::string value = parse_string();
      if (!metadata.emplace(key, std::move(value)).second)
        malformed("'__metadata__' key '" + key + "' appears twice");
      skip_whitespace();
      if (consume(',')) continue;
      expect('}', "expected ',' or '}' in '__metadata__'");
      return;
    }
  }

  TensorEntry parse_tensor(const std::string& name) {
    TensorEntry entry;
    entry.name = name;
    if (peek() != '{') bad_tensor(name, "its header entry must be an object");
    expect('{', "expected an object");
    bool has_dtype = false, has_shape = false, has_offsets = false;
    skip_whitespace();
    if (!consume('}')) {
      while (true) {
        skip_whitespace();
        std::string key = parse_string();
        skip_whitespace();
        expect(':', "expected ':' after a key");
        skip_whitespace();
        auto once = [&](bool& seen) {
          if (seen) bad_tensor(name, "field \"" + key + "\" appears twice");
          seen = true;
        };
        if (key == "dtype") {
          once(has_dtype);
          if (peek() != '"') bad_tensor(name, "\"dtype\" must be a string");
          entry.dtype = parse_string();
        } else if (key == "shape") {
          once(has_shape);
          if (peek() != '[') bad_tensor(name, "\"shape\" must be an array of integers");
          entry.shape = parse_integer_array();
        } else if (key == "data_offsets") {
          once(has_offsets);
          if (peek() != '[') bad_tensor(name, "\"data_offsets\" must be an array of two integers");
          entry.offsets = parse_integer_array();
        } else {
          bad_tensor(name,
                     "unknown field \"" + key + "\" (expected only dtype, shape and data_offsets)");
        }
        skip_whitespace();
        if (consume(',')) continue;
        expect('}', "expected ',' or '}' in a tensor entry");
        break;
      }
    }
    if (!has_dtype) bad_tensor(name, "missing field \"dtype\"");
    if (!has_shape) bad_tensor(name, "missing field \"shape\"");
    if (!has_offsets) bad_tensor(name, "missing field \"data_offsets\"");
    return entry;
  }

  std::string_view text_;
  const std::string& source_;
  size_t pos_ = 0;
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
  HeaderParser(header, source).parse(entries, file.metadata);

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
