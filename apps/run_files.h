// The files of a run directory: CSV metric tables that survive a resume (rows past the
// resume point are dropped), summary.json's JSON text, and small helpers shared by train and
// report.
#pragma once

#include <cstdio>
#include <nlohmann/json_fwd.hpp>
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

// The text of summary.json and of the --json outputs: one member of `object` per line, in
// insertion order, nested values compact, ending in a newline. Bytes that are not UTF-8 (a
// path in an error message) become U+FFFD instead of failing the write.
std::string json_text(const nlohmann::ordered_json& object);

// Reads a JSON file (summary.json); an unreadable or malformed file is an Error naming it.
nlohmann::json read_json_file(const std::string& path);

void write_text_file_atomically(const std::string& path, const std::string& text);


// Removes what writes killed mid-way left in `dir`: regular files named
// "<name>.tmp.<pid>.<n>", write_file_atomically's temporaries (core/atomic_file.h). Nothing
// else is touched, nor anything in sub-folders. Returns the names removed. Call it only while
// no writer of this process is active in `dir` (a run directory at start or resume).
std::vector<std::string> remove_stale_temporaries(const std::string& dir);
std::string timestamp_for_names();  // 20261126-233012
std::string timestamp_iso();        // 2026-11-26T23:30:12Z

}  // namespace cnn
