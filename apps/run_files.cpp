// CSV, JSON and timestamp helpers for run directories.
#include "apps/run_files.h"

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"

namespace cnn {

CsvWriter::CsvWriter(const std::string& path, const std::string& header, double keep_rows_below,
                     int key_column)
    : path_(path) {
  std::vector<std::string> kept;
  if (keep_rows_below >= 0) {
    std::ifstream in(path);
    std::string line;
    bool first = true;
    while (std::getline(in, line)) {
      if (first) {
        first = false;
        continue;
      }
      std::stringstream fields(line);
      std::string field;
      for (int i = 0; i <= key_column && std::getline(fields, field, ','); ++i) {
      }
      try {
        if (!field.empty() && std::stod(field) < keep_rows_below) kept.push_back(line);
      } catch (const std::exception&) {
        // a torn last line from a killed run: drop it
      }
    }
  }
  std::string content = header + "\n";
  for (const std::string& line : kept) content += line + "\n";
  write_file_atomically(path, content, "metrics table");
  file_ = std::fopen(path.c_str(), "a");
  CNN_CHECK(file_, "cannot write '", path, "': ", std::strerror(errno));
}

CsvWriter::~CsvWriter() {
  if (file_) std::fclose(file_);
}

CsvWriter::CsvWriter(CsvWriter&& other) noexcept
    : path_(std::move(other.path_)), file_(other.file_) {
  other.file_ = nullptr;
}

CsvWriter& CsvWriter::operator=(CsvWriter&& other) noexcept {
  if (this != &other) {
    if (file_) std::fclose(file_);
    path_ = std::move(other.path_);
    file_ = other.file_;
    other.file_ = nullptr;
  }
  return *this;
}

void CsvWriter::row(const std::string& line) {
  if (!file_) return;
  if (std::fprintf(file_, "%s\n", line.c_str()) < 0 || std::fflush(file_) != 0)
    CNN_FAIL("cannot write to '", path_, "': ", std::strerror(errno));
}

std::string epochs_csv_header() {
  return "epoch,train_loss,train_acc,test_loss,test_acc,seconds,images_per_s,step_seconds";
}

std::string epoch_csv_row(const EpochRecord& r) {
  std::ostringstream out;
  out << r.epoch << "," << std::setprecision(6) << r.train_loss << "," << r.train_acc << ","
      << r.test_loss << "," << r.test_acc << "," << r.seconds << "," << r.images_per_s << ","
      << r.step_seconds;
  return out.str();
}

std::vector<EpochRecord> read_epochs_csv(const std::string& path) {
  std::vector<EpochRecord> records;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::vector<double> values;
    for (std::string field; std::getline(fields, field, ',');) {
      try {
        values.push_back(std::stod(field));
      } catch (const std::exception&) {
        values.push_back(std::nan(""));
      }
    }
    if (values.size() < 7) continue;
    EpochRecord r;
    r.epoch = static_cast<int64_t>(values[0]);
    r.train_loss = values[1];
    r.train_acc = values[2];
    r.test_loss = values[3];
    r.test_acc = values[4];
    r.seconds = values[5];
    r.images_per_s = values[6];
    if (values.size() > 7) r.step_seconds = values[7];
    records.push_back(r);
  }
  return records;
}

std::string json_escape(const std::string& text) {
  std::ostringstream out;
  for (char c : text) {
    switch (c) {
      case '"':
        out << "\\\"";
        break;
      case '\\':
        out << "\\\\";
        break;
      case '\n':
        out << "\\n";
        break;
      case '\t':
        out << "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out << "\\u" << std::hex << std::setw(4) << std::setfill('0') << int(c) << std::dec;
        else
          out << c;
    }
  }
  return out.str();
}

JsonObject& JsonObject::number(const std::string& key, double value) {
  std::ostringstream out;
  if (std::isfinite(value))
    out << std::setprecision(8) << value;
  else
    out << "null";
  fields_.emplace_back(key, out.str());
  return *this;
}

JsonObject& JsonObject::integer(const std::string& key, int64_t value) {
  fields_.emplace_back(key, std::to_string(value));
  return *this;
}

JsonObject& JsonObject::boolean(const std::string& key, bool value) {
  fields_.emplace_back(key, value ? "true" : "false");
  return *this;
}

JsonObject& JsonObject::string(const std::string& key, const std::string& value) {
  // Appended piece by piece: `"\"" + text + "\""` trips GCC 12's -Wrestrict false positive.
  std::string quoted(1, '"');
  quoted += json_escape(value);
  quoted += '"';
  fields_.emplace_back(key, std::move(quoted));
  return *this;
}

JsonObject& JsonObject::raw(const std::string& key, const std::string& json) {
  fields_.emplace_back(key, json);
  return *this;
}

std::string JsonObject::str() const {
  std::ostringstream out;
  out << "{\n";
  for (size_t i = 0; i < fields_.size(); ++i)
    out << "  \"" << json_escape(fields_[i].first) << "\": " << fields_[i].second
        << (i + 1 < fields_.size() ? ",\n" : "\n");
  out << "}\n";
  return out.str();
}

std::map<std::string, std::string> read_flat_json(const std::string& path) {
  std::ifstream in(path);
  CNN_CHECK(in.good(), "cannot read '", path, "'");
  std::map<std::string, std::string> values;
  std::string line;
  while (std::getline(in, line)) {
    size_t key_start = line.find('"');
    if (key_start == std::string::npos) continue;
    size_t key_end = line.find('"', key_start + 1);
    size_t colon = line.find(':', key_end);
    if (key_end == std::string::npos || colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.back() == ',' || value.back() == ' ')) value.pop_back();
    while (!value.empty() && value.front() == ' ') value.erase(value.begin());
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    values[line.substr(key_start + 1, key_end - key_start - 1)] = value;
  }
  return values;
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  CNN_CHECK(in, "cannot read '", path, "': ", std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_text_file_atomically(const std::string& path, const std::string& text) {
  write_file_atomically(path, text);
}

namespace {
// "<name>.tmp.<pid>.<n>" with a non-empty name and decimal pid and counter.
bool is_atomic_write_temporary(const std::string& file_name) {
  auto digits_before = [&](size_t end) {  // start of the run of digits ending at `end`
    size_t start = end;
    while (start > 0 && std::isdigit(static_cast<unsigned char>(file_name[start - 1]))) --start;
    return start;
  };
  size_t counter_start = digits_before(file_name.size());
  if (counter_start == file_name.size() || counter_start == 0 ||
      file_name[counter_start - 1] != '.')
    return false;
  size_t pid_end = counter_start - 1;
  size_t pid_start = digits_before(pid_end);
  if (pid_start == pid_end) return false;
  const std::string marker = ".tmp.";
  return pid_start > marker.size() &&
         file_name.compare(pid_start - marker.size(), marker.size(), marker) == 0;
}
}  // namespace

std::vector<std::string> remove_stale_temporaries(const std::string& dir) {
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    std::error_code type_ec;
    if (!is_atomic_write_temporary(name) || !entry.is_regular_file(type_ec)) continue;
    std::error_code remove_ec;
    if (std::filesystem::remove(entry.path(), remove_ec)) removed.push_back(name);
  }
  return removed;
}

std::string timestamp_for_names() {
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y%m%d-%H%M%S", &local);
  return buffer;
}

std::string timestamp_iso() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

}  // namespace cnn
