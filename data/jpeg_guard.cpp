// The JPEG marker walk of jpeg_guard.h. Every step mirrors stb_image v2.27's
// stbi__decode_jpeg_image (get_marker, process_marker, the scan loop), reading bytes the
// way stbi__get8 does (0 past the end), so the DHT segments checked here are exactly the
// ones stb_image would build tables from. Where stb_image gives up on a file, so does the
// walk: the file is safe then, stb_image reports its own error.
#include "data/jpeg_guard.h"

namespace cnn {

namespace {

constexpr int kNoMarker = 0xff;  // stb's STBI__MARKER_none

class JpegWalk {
 public:
  JpegWalk(const uint8_t* bytes, size_t size) : bytes_(bytes), size_(size) {}

  std::string problem() {
    if (marker() != 0xd8) return "";  // no SOI: not a JPEG to stb_image
    // Segments up to the frame header (SOF0/1/2).
    int m = marker();
    while (m != 0xc0 && m != 0xc1 && m != 0xc2) {
      if (!segment(m)) return problem_;
      m = marker();
      while (m == kNoMarker) {
        if (at_end()) return "";
        m = marker();
      }
    }
    skip(static_cast<int64_t>(get16()) - 2);  // the frame header
    // Scans and the segments between them, up to EOI.
    m = marker();
    while (m != 0xd9) {
      if (m == 0xda) {
        skip(static_cast<int64_t>(get16()) - 2);  // the scan header
        m = marker_after_entropy_coded_data();
        continue;
      }
      if (m == 0xdc) {  // DNL
        get16();
        get16();
      } else if (!segment(m)) {
        return problem_;
      }
      m = marker();
    }
    return "";
  }

 private:
  bool at_end() const { return pos_ >= size_; }
  int get8() { return at_end() ? 0 : bytes_[pos_++]; }
  int get16() {
    int high = get8();
    return (high << 8) | get8();
  }
  void skip(int64_t n) {
    if (n <= 0) {
      if (n < 0) pos_ = size_;
      return;
    }
    pos_ = static_cast<uint64_t>(n) > size_ - pos_ ? size_ : pos_ + static_cast<size_t>(n);
  }

  // stbi__get_marker: 0xff, then any fill 0xff bytes, then the marker code.
  int marker() {
    int x = get8();
    if (x != 0xff) return kNoMarker;
    while (x == 0xff) x = get8();
    return x;
  }

  // Where stb_image's bit reader stops: at the first 0xff followed (after fill bytes) by a
  // non-zero byte; 0xff 0x00 is a stuffed data byte. A restart marker (RST0-7) is taken as
  // part of the scan, as stb_image does when the restart interval is set.
  int marker_after_entropy_coded_data() {
    while (!at_end()) {
      if (get8() != 0xff) continue;
      int c = get8();
      while (c == 0xff) c = get8();
      if (c == 0 || (c >= 0xd0 && c <= 0xd7)) continue;
      return c;
    }
    return kNoMarker;
  }

  // stbi__process_marker; false when stb_image stops decoding here (problem_ says why when
  // the reason is the Huffman overflow, else it is empty: stb_image rejects the file itself).
  bool segment(int m) {
    switch (m) {
      case 0xdd:  // DRI
        if (get16() != 4) return false;
        get16();
        return true;
      case 0xdb: {  // DQT
        int length = get16() - 2;
        while (length > 0) {
          int q = get8();
          int precision = q >> 4, table = q & 15;
          if ((precision != 0 && precision != 1) || table > 3) return false;
          skip(precision ? 128 : 64);
          length -= precision ? 129 : 65;
        }
        return length == 0;
      }
      case 0xc4: {  // DHT
        int length = get16() - 2;
        while (length > 0) {
          int q = get8();
          if ((q >> 4) > 1 || (q & 15) > 3) return false;
          int codes = 0;
          for (int i = 0; i < 16; ++i) codes += get8();
          if (codes > 256) {
            problem_ = "corrupt JPEG: a Huffman table (DHT segment at byte " +
                       std::to_string(pos_ - 17) + ") declares " + std::to_string(codes) +
                       " codes, more than the 256 allowed";
            return false;
          }
          skip(codes);
          length -= 17 + codes;
        }
        return length == 0;
      }
      default:
        break;
    }
    if ((m >= 0xe0 && m <= 0xef) || m == 0xfe) {  // APPn, COM: skipped by their length
      int length = get16();
      if (length < 2) return false;
      skip(length - 2);
      return true;
    }
    return false;  // stb_image: "expected marker" / "unknown marker"
  }

  const uint8_t* bytes_;
  size_t size_;
  size_t pos_ = 0;
  std::string problem_;
};

}  // namespace

std::string jpeg_huffman_problem(const uint8_t* bytes, size_t size) {
  return JpegWalk(bytes, size).problem();
}

}  // namespace cnn
