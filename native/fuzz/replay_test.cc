// Replays every committed input of one fuzz target through the target's own
// LLVMFuzzerTestOneInput, without libFuzzer: its seed corpus
// (corpus/<target>/, one test) and the reproducers of the bugs it found
// (regressions/<target>/, one test each). Built for every fuzz_<target>.cc
// in every plain CMake test build, so `npm run test:native` replays them in
// its plain, TSAN and ASan+UBSan variants with no clang needed. A failing
// input aborts the process: the target prints what went wrong, this file
// which input it was.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
#if defined(__GNUC__)
// Optional in a target, as in libFuzzer.
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) __attribute__((weak));
#endif

namespace {

namespace fs = std::filesystem;

const fs::path kRoot = THREADKV_FUZZ_DIR;
constexpr const char* kTarget = THREADKV_FUZZ_TARGET;

// The inputs in `dir` (every regular file but README* and dotfiles), sorted.
std::vector<fs::path> InputsIn(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || name.starts_with(".") || name.starts_with("README")) continue;
    out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void Replay(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  ASSERT_TRUE(in) << "cannot read " << file;
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::fprintf(stderr, "replaying %s (%zu bytes)\n", file.string().c_str(), bytes.size());
  // A copy in its own allocation, as libFuzzer gives it: ASan then sees a
  // read past the end of the input.
  std::vector<uint8_t> data(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(data.empty() ? nullptr : data.data(), data.size());
}

class Environment : public ::testing::Environment {
 public:
  void SetUp() override {
#if defined(__GNUC__)
    if (LLVMFuzzerInitialize != nullptr) {
      static char name[] = "replay";
      static char* argv_storage[] = {name, nullptr};
      int argc = 1;
      char** argv = argv_storage;
      LLVMFuzzerInitialize(&argc, &argv);
    }
#endif
  }
};
const ::testing::Environment* const kEnvironment = ::testing::AddGlobalTestEnvironment(new Environment);

std::vector<std::string> RegressionNames() {
  std::vector<std::string> names;
  for (const fs::path& p : InputsIn(kRoot / "regressions" / kTarget)) names.push_back(p.filename().string());
  return names;
}

class Regression : public ::testing::TestWithParam<std::string> {};

TEST_P(Regression, Replays) { Replay(kRoot / "regressions" / kTarget / GetParam()); }

INSTANTIATE_TEST_SUITE_P(Fuzz, Regression, ::testing::ValuesIn(RegressionNames()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string name;
                           for (char c : param.param) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return name;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Regression);

TEST(Corpus, ReplaysEverySeed) {
  const fs::path dir = kRoot / "corpus" / kTarget;
  const std::vector<fs::path> files = InputsIn(dir);
  ASSERT_FALSE(files.empty()) << "no seed inputs in " << dir << ": a target's corpus must not be empty";
  for (const fs::path& f : files) Replay(f);
}

}  // namespace
