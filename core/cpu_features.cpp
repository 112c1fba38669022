// cpuid and xgetbv (see cpu_features.h). On a non-x86 build everything reads false and the
// level is sse3, which sends every product to OpenBLAS.
#include "core/cpu_features.h"

#include <cstdint>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define CNN_X86 1
#endif

namespace cnn {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::sse3:
      return "sse3";
    case Isa::avx:
      return "avx";
    case Isa::avx2:
      return "avx2";
    case Isa::avx512:
      return "avx512";
  }
  return "?";
}

namespace {

#ifdef CNN_X86
struct Regs {
  unsigned a = 0, b = 0, c = 0, d = 0;
};

Regs cpuid(unsigned leaf, unsigned subleaf = 0) {
  Regs r;
  __cpuid_count(leaf, subleaf, r.a, r.b, r.c, r.d);
  return r;
}

// XCR0, the state the OS saves on a context switch (valid only when OSXSAVE is set).
uint64_t xcr0() {
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t{hi} << 32) | lo;
}

bool bit(unsigned value, int n) { return (value >> n) & 1u; }

void read_identity(CpuFeatures& f, unsigned max_leaf) {
  const Regs v = cpuid(0);
  char vendor[13] = {};
  std::memcpy(vendor, &v.b, 4);
  std::memcpy(vendor + 4, &v.d, 4);
  std::memcpy(vendor + 8, &v.c, 4);
  f.vendor = vendor;
  if (max_leaf >= 1) {
    const unsigned sig = cpuid(1).a;
    const int base_family = (sig >> 8) & 0xf, base_model = (sig >> 4) & 0xf;
    f.family =
        base_family == 0xf ? base_family + static_cast<int>((sig >> 20) & 0xff) : base_family;
    f.model = (base_family == 0x6 || base_family == 0xf)
                  ? base_model + static_cast<int>(((sig >> 16) & 0xf) << 4)
                  : base_model;
  }
  if (cpuid(0x80000000).a >= 0x80000004) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      const Regs r = cpuid(0x80000002 + i);
      std::memcpy(brand + 16 * i, &r, 16);
    }
    f.brand = brand;
    while (!f.brand.empty() && f.brand.back() == ' ') f.brand.pop_back();
    while (!f.brand.empty() && f.brand.front() == ' ') f.brand.erase(0, 1);
  }
}

CpuFeatures detect() {
  CpuFeatures f;
  const unsigned max_leaf = cpuid(0).a;
  read_identity(f, max_leaf);
  if (max_leaf < 1) return f;
  const Regs l1 = cpuid(1);
  f.fma = bit(l1.c, 12);
  f.avx = bit(l1.c, 28);
  if (bit(l1.c, 27)) {  // OSXSAVE: xgetbv may be used
    const uint64_t state = xcr0();
    f.os_ymm = (state & 0x6) == 0x6;          // XMM and YMM
    f.os_zmm = (state & 0xe6) == 0xe6;        // plus opmask, ZMM_Hi256, Hi16_ZMM
    f.os_amx = (state & 0x60000) == 0x60000;  // XTILECFG and XTILEDATA
  }
  if (max_leaf >= 7) {
    const Regs l7 = cpuid(7, 0);
    f.avx2 = bit(l7.b, 5);
    f.avx512f = bit(l7.b, 16);
    f.avx512dq = bit(l7.b, 17);
    f.avx512bw = bit(l7.b, 30);
    f.avx512vl = bit(l7.b, 31);
    f.amx_bf16 = bit(l7.d, 22);
    f.amx_tile = bit(l7.d, 24);
    if (l7.a >= 1) f.avx512_bf16 = bit(cpuid(7, 1).a, 5);
  }
  if (f.avx && f.os_ymm) f.best = Isa::avx;
  if (f.best == Isa::avx && f.avx2 && f.fma) f.best = Isa::avx2;
  if (f.best == Isa::avx2 && f.os_zmm && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq)
    f.best = Isa::avx512;
  return f;
}
#else
CpuFeatures detect() { return CpuFeatures{}; }
#endif

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

std::string describe_cpu() {
  const CpuFeatures& f = cpu_features();
  std::string flags;
  auto add = [&](bool has, const char* name) {
    if (has) flags += std::string(flags.empty() ? "" : " ") + name;
  };
  add(f.avx, "avx");
  add(f.avx2, "avx2");
  add(f.fma, "fma");
  add(f.avx512f, "avx512f");
  add(f.avx512bw, "avx512bw");
  add(f.avx512vl, "avx512vl");
  add(f.avx512dq, "avx512dq");
  add(f.avx512_bf16, "avx512_bf16");
  add(f.amx_tile, "amx_tile");
  add(f.amx_bf16, "amx_bf16");
  add(f.avx512f && !f.os_zmm, "(zmm state not enabled by the OS)");
  add(f.amx_tile && !f.os_amx, "(amx state not enabled by the OS)");
  return (f.brand.empty() ? std::string("unnamed CPU") : f.brand) + " (" + f.vendor + " family " +
         std::to_string(f.family) + " model " + std::to_string(f.model) + "): best level " +
         isa_name(f.best) + " [" + flags + "]";
}

}  // namespace cnn
