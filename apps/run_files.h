// The files of a run directory: CSV metric tables that survive a resume (rows past the
// resume point are dropped), summary.json, and small helpers shared by train and report.
#pragma once

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "apps/run_records.h"

namespace cnn {

// An append-only CSV file with a fixed header, flushed after every row so a killed run
// keeps what it logged.
class CsvWriter {
 public:
  CsvWriter() = default;
  // Opens `path`; when `keep_rows_below` >= 0 and the file exists, keeps only the data
  // rows whose first column (as a number) is below it, else starts a fresh file. The header
  // and kept rows replace the file atomically, so a kill during a resume loses no row.
  CsvWriter(const std::string& path, const std::string& header, double keep_rows_below = -1,
            int key_column = 0);
  ~CsvWriter();
  CsvWriter(CsvWriter&& other) noexcept;
  CsvWriter& operator=(CsvWriter&& other) noexcept;
  CsvWriter(const CsvWriter&) = delete;
  CsvWriter& operator=(const CsvWriter&) = delete;
  void row(const std::string& line);
  bool is_open() const { return file_ != nullptr; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

std::string epochs_csv_header();
std::string epoch_csv_row(const EpochRecord& record);
// Reads epochs.csv of a run directory (empty when missing).
std::vector<EpochRecord> read_epochs_csv(const std::string& path);

// A flat JSON object of numbers, booleans and strings, for summary.json.
class JsonObject {
 public:
  JsonObject& number(const std::string& key, double value);
  JsonObject& integer(const std::string& key, int64_t value);
  JsonObject& boolean(const std::string& key, bool value);
  JsonObject& string(const std::string& key, const std::string& value);
  JsonObject& raw(const std::string& key, const std::string& json);  // nested JSON
  std::string str() const;

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};
std::string json_escape(const std::string& text);

// Reads a flat summary.json back (values as raw JSON text, strings unquoted).
std::map<std::string, std::string> read_flat_json(const std::string& path);

void write_text_file_atomically(const std::string& path, const std::string& text);
// The whole file; cnn::Error naming it when it cannot be read.
std::string read_text_file(const std::string& path);

// Removes what writes killed mid-way left in `dir`: regular files named
// "<name>.tmp.<pid>.<n>", write_file_atomically's temporaries (core/atomic_file.h). Nothing
// else is touched, nor anything in sub-folders. Returns the names removed. Call it only while
// no writer of this process is active in `dir` (a run directory at start or resume).
std::vector<std::string> remove_stale_temporaries(const std::string& dir);
std::string timestamp_for_names();  // 20261126-233012
std::string timestamp_iso();        // 2026-11-26T23:30:12Z

}  // namespace cnn
