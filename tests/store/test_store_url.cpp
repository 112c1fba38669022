// Store URLs: the two backends' forms, the password rule (never in the URL, never logged),
// and what SOCI is given.
#include <stdlib.h>

#include <catch2/catch.hpp>

#include "apps/run_store.h"
#include "apps/store_url.h"
#include "core/error.h"

using namespace cnn;
using Catch::Contains;

TEST_CASE("store URLs name SQLite files and MySQL servers", "[store][url]") {
  REQUIRE(parse_store_url("runs/runs.db").sqlite_path == "runs/runs.db");
  REQUIRE(parse_store_url("sqlite:runs/x.db").sqlite_path == "runs/x.db");
  REQUIRE(parse_store_url("sqlite3://db=/tmp/a.db timeout=5").sqlite_timeout_s == 5);
  ::setenv("CNNLAB_STORE_PASSWORD", "s3cret", 1);
  StoreUrl tidb = parse_store_url("mysql://cnnlab@tidb.example:4000/runs");
  REQUIRE(tidb.backend == StoreBackend::mysql);
  REQUIRE(tidb.user == "cnnlab");
  REQUIRE(tidb.host == "tidb.example");
  REQUIRE(tidb.port == 4000);
  REQUIRE(tidb.database == "runs");
  REQUIRE(tidb.password == "s3cret");
  REQUIRE(soci_parameters(tidb) ==
          "db=runs user=cnnlab charset=utf8mb4 connect_timeout=5 "
          "read_timeout=30 host=tidb.example port=4000 password=s3cret");
  REQUIRE(RunStore::describe("mysql://cnnlab@tidb.example:4000/runs") ==
          "mysql://cnnlab@tidb.example:4000/runs");
  StoreUrl local = parse_store_url("mysql://root@localhost/runs?socket=/run/mysqld/mysqld.sock");
  REQUIRE(local.socket == "/run/mysqld/mysqld.sock");
  REQUIRE(local.port == 3306);
  REQUIRE_THAT(soci_parameters(local), Contains("unix_socket=/run/mysqld/mysqld.sock"));
  REQUIRE_THAT(describe_store_url(local), !Contains("s3cret"));
  ::unsetenv("CNNLAB_STORE_PASSWORD");
}

TEST_CASE("store URLs refuse a password, a bad form and an unknown scheme", "[store][url]") {
  REQUIRE_THROWS_WITH(parse_store_url("mysql://me:hunter2@db/runs"),
                      Contains("CNNLAB_STORE_PASSWORD") && !Contains("hunter2"));
  REQUIRE_THROWS_WITH(parse_store_url("mysql://db.example"), Contains("mysql://USER@HOST"));
  REQUIRE_THROWS_WITH(parse_store_url("postgres://x/y"), Contains("unknown scheme 'postgres'"));
  REQUIRE_THROWS_WITH(parse_store_url(""), Contains("empty"));
  REQUIRE_THROWS_WITH(parse_store_url("sqlite:"), Contains("names no database"));
}

TEST_CASE("the password comes from ~/.my.cnf when the environment has none", "[store][url]") {
  const char* home = std::getenv("HOME");
  const std::string saved = home ? home : "";
  char folder[] = "/tmp/cnnlab_mycnf_XXXXXX";
  REQUIRE(::mkdtemp(folder) != nullptr);
  FILE* file = std::fopen((std::string(folder) + "/.my.cnf").c_str(), "w");
  std::fputs("[mysqld]\npassword = wrong\n[client]\nuser = ann\npassword = \"from file\"\n", file);
  std::fclose(file);
  ::setenv("HOME", folder, 1);
  ::unsetenv("CNNLAB_STORE_PASSWORD");
  StoreUrl url = parse_store_url("mysql://db.example/runs");
  ::setenv("HOME", saved.c_str(), 1);
  std::remove((std::string(folder) + "/.my.cnf").c_str());
  ::rmdir(folder);
  REQUIRE(url.user == "ann");
  REQUIRE(url.password == "from file");
  REQUIRE_THAT(soci_parameters(url), Contains("password=\"from file\""));
}
