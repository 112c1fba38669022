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
#include <nlohmann/json.hpp>
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

std::string json_text(const nlohmann::ordered_json& object) {
  // dump(2) but for nested values, which stay on their member's line: eval's confusion matrix
  // would otherwise take a line per cell (10,000 lines for 100 classes).
  auto compact = [](const nlohmann::ordered_json& value) {
    return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  };
  if (!object.is_object() || object.empty()) return compact(object) + "\n";
  std::string text = "{\n";
  size_t written = 0;
  for (const auto& [key, value] : object.items()) {
    text += "  ";
    text += compact(key);
    text += ": ";
    text += compact(value);
    text += ++written < object.size() ? ",\n" : "\n";
  }
  return text + "}\n";
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  CNN_CHECK(in.good(), "cannot read '", path, "': ", std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    CNN_FAIL("'", path, "' is not valid JSON: ", e.what());
  }
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
