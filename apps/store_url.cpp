// Store URL parsing (see store_url.h).
#include "apps/store_url.h"

#include <cstdlib>
#include <fstream>
#include <regex>

#include "core/error.h"

namespace cnn {
namespace {

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

std::string trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t\r") - begin + 1);
}

// `key` from the [client] section of ~/.my.cnf ("" when the file or the key is absent).
std::string option_file_value(const std::string& key) {
  const char* home = std::getenv("HOME");
  if (home == nullptr) return "";
  std::ifstream file(std::string(home) + "/.my.cnf");
  std::string line, section, value;
  while (std::getline(file, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      section = trim(line.substr(1, line.find(']') - 1));
      continue;
    }
    const size_t equals = line.find('=');
    if (section != "client" || equals == std::string::npos || trim(line.substr(0, equals)) != key)
      continue;
    value = trim(line.substr(equals + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\''))
      value = value.substr(1, value.size() - 2);
  }
  return value;
}

// SOCI's "key=value key=value" form, as the old "sqlite3://db=PATH timeout=S" URLs use it.
std::string soci_value(const std::string& parameters, const std::string& key) {
  std::smatch match;
  if (!std::regex_search(parameters, match, std::regex("(^|\\s)" + key + "=(\\S*)"))) return "";
  return match[2];
}

StoreUrl parse_sqlite(const std::string& url, const std::string& rest) {
  StoreUrl parsed;
  parsed.sqlite_path = rest;
  if (rest.find('=') != std::string::npos && starts_with(url, "sqlite3://")) {
    parsed.sqlite_path = soci_value(rest, "db");
    if (parsed.sqlite_path.empty()) parsed.sqlite_path = soci_value(rest, "dbname");
    const std::string timeout = soci_value(rest, "timeout");
    if (!timeout.empty()) parsed.sqlite_timeout_s = std::atoi(timeout.c_str());
  }
  CNN_CHECK(!parsed.sqlite_path.empty(), "run database '", url,
            "': the SQLite connection string names no database; write sqlite:PATH");
  CNN_CHECK(parsed.sqlite_path.find('"') == std::string::npos, "run database '", url,
            "': a path with '\"' in it is not supported");
  return parsed;
}

StoreUrl parse_mysql(const std::string& url) {
  // mysql://USER@HOST[:PORT]/DB[?socket=PATH]
  static const std::regex form(
      R"(mysql://(?:([^@:/?]+)(:[^@/?]*)?@)?([^:/?]*)(?::(\d+))?/([^/?]+)(?:\?socket=(.+))?)");
  std::smatch match;
  CNN_CHECK(std::regex_match(url, match, form), "run database '",
            std::regex_replace(url, std::regex(":[^@/]*@"), ":***@"),
            "': expected mysql://USER@HOST[:PORT]/DB (optionally ?socket=/path/mysqld.sock)");
  CNN_CHECK(!match[2].matched, "run database '",
            std::regex_replace(url, std::regex(":[^@/]*@"), ":***@"),
            "': a password does not belong in the URL (it would reach logs and shell "
            "history); set CNNLAB_STORE_PASSWORD or put it in ~/.my.cnf [client]");
  StoreUrl parsed;
  parsed.backend = StoreBackend::mysql;
  parsed.user = match[1].matched ? match[1].str() : option_file_value("user");
  parsed.host = match[3].str().empty() ? "localhost" : match[3].str();
  parsed.port = match[4].matched ? std::stoi(match[4].str()) : 3306;
  parsed.database = match[5];
  parsed.socket = match[6].matched ? match[6].str() : "";
  CNN_CHECK(!parsed.user.empty(), "run database '", url,
            "': no user; write mysql://USER@HOST/DB or set user in ~/.my.cnf [client]");
  const char* password = std::getenv("CNNLAB_STORE_PASSWORD");
  parsed.password = password != nullptr ? password : option_file_value("password");
  return parsed;
}

}  // namespace

StoreUrl parse_store_url(const std::string& url) {
  CNN_CHECK(!url.empty(),
            "run database: the connection string is empty; give sqlite:PATH, "
            "a file path such as runs/runs.db, or mysql://USER@HOST/DB");
  if (starts_with(url, "mysql://")) return parse_mysql(url);
  if (starts_with(url, "sqlite3://")) return parse_sqlite(url, url.substr(10));
  if (starts_with(url, "sqlite://")) return parse_sqlite(url, url.substr(9));
  if (starts_with(url, "sqlite:")) return parse_sqlite(url, url.substr(7));
  const size_t scheme = url.find("://");
  CNN_CHECK(scheme == std::string::npos, "run database '",
            std::regex_replace(url, std::regex("password=\\S*"), "password=***"),
            "': unknown scheme '", url.substr(0, scheme),
            "'; write sqlite:PATH, a file path, or mysql://USER@HOST[:PORT]/DB");
  return parse_sqlite(url, url);
}

std::string describe_store_url(const StoreUrl& url) {
  if (url.backend == StoreBackend::sqlite) return url.sqlite_path;
  std::string text = "mysql://" + url.user + "@" + url.host;
  if (url.port != 3306) text += ":" + std::to_string(url.port);
  text += "/" + url.database;
  if (!url.socket.empty()) text += "?socket=" + url.socket;
  return text;
}

std::string soci_parameters(const StoreUrl& url) {
  auto quoted = [](const std::string& value) {
    return value.find_first_of(" '\"") == std::string::npos ? value : "\"" + value + "\"";
  };
  if (url.backend == StoreBackend::sqlite)
    return "db=" + quoted(url.sqlite_path) + " timeout=" + std::to_string(url.sqlite_timeout_s);
  std::string text = "db=" + quoted(url.database) + " user=" + quoted(url.user) +
                     " charset=utf8mb4 connect_timeout=5 read_timeout=30";
  if (!url.socket.empty())
    text += " unix_socket=" + quoted(url.socket);
  else
    text += " host=" + quoted(url.host) + " port=" + std::to_string(url.port);
  if (!url.password.empty()) text += " password=" + quoted(url.password);
  return text;
}

std::string choose_store_url(const std::string& option, const std::string& fallback) {
  if (!option.empty()) return option;
  const char* environment = std::getenv("CNNLAB_STORE");
  if (environment != nullptr && *environment != '\0') return environment;
  return fallback;
}

}  // namespace cnn
