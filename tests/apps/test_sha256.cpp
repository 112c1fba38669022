// SHA-256 of the checkpoint rows: FIPS 180-4's test vectors, a file, and a missing file.
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "apps/sha256.h"
#include "core/error.h"

using cnn::sha256_file;
using cnn::sha256_hex;

TEST_CASE("sha256 matches the FIPS 180-4 test vectors", "[apps][sha256]") {
  REQUIRE(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  REQUIRE(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  REQUIRE(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  REQUIRE(sha256_hex(std::string(1000000, 'a')) ==
          "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256 of a file, and an error naming a missing one", "[apps][sha256]") {
  const std::string path = "/tmp/cnnlab_sha256_test.bin";
  std::ofstream(path, std::ios::binary) << std::string(70000, 'a');  // more than one read
  REQUIRE(sha256_file(path) == sha256_hex(std::string(70000, 'a')));
  std::remove(path.c_str());
  REQUIRE_THROWS_WITH(sha256_file(path), Catch::Contains(path));
}
