// safetensors reading and writing, module checkpoints, and the loader's defence
// against corrupt files (every malformed header field, truncation, random byte flips).
#include "engine/io/checkpoint.h"
#include "engine/io/safetensors.h"
#include "engine/random.h"

#include <gtest/gtest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

using namespace cxr;
namespace fs = std::filesystem;

namespace {

class Safetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / fmt::format("cxr_test_safetensors_{}_{}", ::getpid(), info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string file(const std::string& name) const { return (dir_ / name).string(); }

  // Every file in the test directory (to catch left-over temporaries).
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  fs::path dir_;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string u64_le(std::uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(n >> (8 * i));
  return s;
}

// A file made of a header (as given) and `data_bytes` bytes of data.
std::string raw_file(const std::string& header, std::size_t data_bytes) {
  return u64_le(header.size()) + header + std::string(data_bytes, '\x01');
}

// Loading `path` throws a cxr::Error whose message names the file and contains `expected`.
void expect_load_error(const std::string& path, const std::string& expected) {
  try {
    load_safetensors(path);
    ADD_FAILURE() << "loaded a corrupt file; expected an error containing: " << expected;
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(expected), std::string::npos)
        << "message: " << message << "\nexpected to contain: " << expected;
  }
}

Tensor random_tensor(const Shape& shape, DType dtype, Generator& gen) {
  std::vector<double> v(static_cast<std::size_t>(shape_numel(shape)));
  for (auto& x : v) x = gen.uniform(-3, 3);
  return Tensor::from_vector(v, shape, dtype);
}

void expect_identical(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.dtype(), b.dtype());
  ASSERT_EQ(a.shape(), b.shape());
  EXPECT_EQ(a.to_vector(), b.to_vector());  // converted exactly to double: bitwise equality
}

TEST_F(Safetensors, RoundTripsFloat32Float64ZeroDimEmptyAndOffsetViews) {
  Generator gen(1);
  const Tensor big = random_tensor({4, 3}, DType::F32, gen);
  const std::vector<std::pair<std::string, Tensor>> tensors = {
      {"conv.weight", random_tensor({2, 3, 4, 5}, DType::F32, gen)},
      {"stats", random_tensor({7}, DType::F64, gen)},
      {"scalar", random_tensor({}, DType::F32, gen)},
      {"empty", Tensor::zeros({0, 3}, DType::F64)},
      {"rows", big.slice_rows(1, 3)},  // a view at a non-zero storage offset
  };
  const std::map<std::string, std::string> metadata = {{"arch", "cxr_small"}, {"epoch", "3"}};
  save_safetensors(file("a.safetensors"), tensors, metadata);

  const SafetensorsFile loaded = load_safetensors(file("a.safetensors"));
  EXPECT_EQ(loaded.metadata, metadata);
  ASSERT_EQ(loaded.tensors.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    SCOPED_TRACE(name);
    expect_identical(loaded.at(name), t);
    EXPECT_TRUE(loaded.at(name).is_contiguous());
  }
  // The data section starts 8-byte aligned, as the format recommends.
  const std::string bytes = read_bytes(file("a.safetensors"));
  std::uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, bytes.data(), 8);
  EXPECT_EQ((8 + header_bytes) % 8, 0u);
  EXPECT_EQ(listing(), std::vector<std::string>{"a.safetensors"});
}

TEST_F(Safetensors, EmptyMetadataAndNoTensors) {
  save_safetensors(file("empty.safetensors"), {}, {});
  const SafetensorsFile loaded = load_safetensors(file("empty.safetensors"));
  EXPECT_TRUE(loaded.tensors.empty());
  EXPECT_TRUE(loaded.metadata.empty());

  save_safetensors(file("one.safetensors"), {{"x", Tensor::ones({2})}});
  EXPECT_TRUE(load_safetensors(file("one.safetensors")).metadata.empty());
}

TEST_F(Safetensors, ReadsAFileWrittenByHandToTheSpecification) {
  // As Python's safetensors writes it: keys in any order, header padded with spaces.
  const std::string header =
      R"({"b":{"dtype":"F64","shape":[],"data_offsets":[8,16]},)"
      R"("__metadata__":{"format":"pt"},"a":{"shape":[2],"data_offsets":[0,8],"dtype":"F32"}}   )";
  const float a[2] = {1.5f, -2.0f};
  const double b = 0.1;
  std::string data(16, '\0');
  std::memcpy(data.data(), a, 8);
  std::memcpy(data.data() + 8, &b, 8);
  write_bytes(file("hand.safetensors"), u64_le(header.size()) + header + data);

  const SafetensorsFile loaded = load_safetensors(file("hand.safetensors"));
  EXPECT_EQ(loaded.metadata, (std::map<std::string, std::string>{{"format", "pt"}}));
  EXPECT_EQ(loaded.at("a").to_vector(), (std::vector<double>{1.5, -2.0}));
  EXPECT_EQ(loaded.at("a").dtype(), DType::F32);
  EXPECT_EQ(loaded.at("b").dim(), 0);
  EXPECT_EQ(loaded.at("b").item(), 0.1);
}

TEST_F(Safetensors, AtNamesTheFileAndTheMissingTensor) {
  save_safetensors(file("a.safetensors"), {{"x", Tensor::ones({1})}});
  const SafetensorsFile loaded = load_safetensors(file("a.safetensors"));
  try {
    loaded.at("y");
    FAIL() << "at() returned a tensor the file does not have";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'y'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(file("a.safetensors")), std::string::npos) << e.what();
  }
}

TEST_F(Safetensors, RejectsMissingAndTooShortFiles) {
  expect_load_error(file("nope.safetensors"), "no such file");
  write_bytes(file("short"), std::string(5, '\x10'));
  expect_load_error(file("short"), "has 5 bytes, fewer than the 8-byte header length");
  expect_load_error(dir_.string(), "not a regular file");
}

TEST_F(Safetensors, RejectsBadHeaderLengths) {
  write_bytes(file("long"), u64_le(100) + "{}");
  expect_load_error(file("long"), "header length 100 is larger than the 2 bytes that follow it");
  write_bytes(file("absurd"), u64_le(200'000'000) + "{}");
  expect_load_error(file("absurd"), "header length 200000000 exceeds the limit of 100000000 bytes");
  write_bytes(file("max"), u64_le(~0ULL) + "{}");
  expect_load_error(file("max"), "exceeds the limit");
  write_bytes(file("zero"), u64_le(0));
  expect_load_error(file("zero"), "header is not valid JSON");
}

TEST_F(Safetensors, RejectsHeadersThatAreNotAJsonObject) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"a": )", "header is not valid JSON"},
      {"\xff\xfe{}", "header is not valid JSON"},
      {R"({"a": "\xc3\x28"})", "header is not valid JSON"},  // invalid UTF-8
      {"[1, 2]", "header is not a JSON object"},
      {"42", "header is not a JSON object"},
      {R"({"__metadata__": [1]})", "\"__metadata__\" must be an object, got [1]"},
      {R"({"__metadata__": {"epoch": 3}})", "\"__metadata__\" value of \"epoch\" must be a string, got 3"},
  };
  for (const auto& [header, expected] : cases) {
    SCOPED_TRACE(header);
    write_bytes(file("bad"), raw_file(header, 0));
    expect_load_error(file("bad"), expected);
  }
}

TEST_F(Safetensors, RejectsMalformedEntries) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"w": 3})", "tensor 'w' must be a JSON object, got 3"},
      {R"({"w": {"shape": [1], "data_offsets": [0, 4]}})", "tensor 'w' has no \"dtype\""},
      {R"({"w": {"dtype": "F32", "data_offsets": [0, 4]}})", "tensor 'w' has no \"shape\""},
      {R"({"w": {"dtype": "F32", "shape": [1]}})", "tensor 'w' has no \"data_offsets\""},
      {R"({"w": {"dtype": 32, "shape": [1], "data_offsets": [0, 4]}})",
       "tensor 'w': \"dtype\" must be a string, got 32"},
      {R"({"w": {"dtype": "F32", "shape": 1, "data_offsets": [0, 4]}})",
       "tensor 'w': \"shape\" must be an array, got 1"},
      {R"({"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})",
       "an extent in the shape of tensor 'w' must be a non-negative integer, got 1.5E0"},
      {R"({"w": {"dtype": "F32", "shape": ["1"], "data_offsets": [0, 4]}})",
       "must be a non-negative integer, got \"1\""},
      {R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})",
       "tensor 'w': \"data_offsets\" must be an array [begin, end], got [0]"},
      {R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": {"begin": 0}}})",
       "\"data_offsets\" must be an array [begin, end]"},
      {R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, -4]}})",
       "data_offsets[1] of tensor 'w' is negative (-4)"},
  };
  for (const auto& [header, expected] : cases) {
    SCOPED_TRACE(header);
    write_bytes(file("bad"), raw_file(header, 4));
    expect_load_error(file("bad"), expected);
  }
}

TEST_F(Safetensors, RejectsUnsupportedDTypesSayingWhatIsSupported) {
  for (const std::string dtype : {"I64", "BF16", "F16", "f32", ""}) {
    SCOPED_TRACE(dtype);
    write_bytes(file("bad"),
                raw_file(R"({"w": {"dtype": ")" + dtype + R"(", "shape": [1], "data_offsets": [0, 8]}})", 8));
    expect_load_error(file("bad"),
                      "tensor 'w' has dtype \"" + dtype + "\", which CXR does not support (supported: F32, F64)");
  }
}

TEST_F(Safetensors, RejectsNegativeAndOverflowingShapes) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"w": {"dtype": "F32", "shape": [2, -1], "data_offsets": [0, 4]}})",
       "an extent in the shape of tensor 'w' is negative (-1)"},
      {R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}})",
       "tensor 'w': shape [4294967296, 4294967296] overflows"},
      {R"({"w": {"dtype": "F64", "shape": [2305843009213693952], "data_offsets": [0, 4]}})",
       "tensor 'w': shape [2305843009213693952] overflows"},  // 2^61 elements * 8 bytes = 2^64
      {R"({"w": {"dtype": "F32", "shape": [18446744073709551615], "data_offsets": [0, 4]}})",
       "tensor 'w': shape [18446744073709551615] overflows"},
      {R"({"w": {"dtype": "F32", "shape": [1e300], "data_offsets": [0, 4]}})", "must be a non-negative integer"},
  };
  for (const auto& [header, expected] : cases) {
    SCOPED_TRACE(header);
    write_bytes(file("bad"), raw_file(header, 4));
    expect_load_error(file("bad"), expected);
  }
}

TEST_F(Safetensors, RejectsBadOffsets) {
  struct Case {
    std::string header;
    std::size_t data_bytes;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", 8,
       "tensor 'w': data_offsets [8, 0] begin after they end"},
      {R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8,
       "tensor 'w': data_offsets [0, 8] span 8 bytes, but float32[3] needs 12"},
      {R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 4,
       "data section is truncated or its offsets are out of range: tensor 'w' ends at byte 8, "
       "but the file holds only 4 bytes of data"},
      {R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [1000000, 1000004]}})", 4,
       "data bytes [0, 1000000) before tensor 'w' belong to no tensor"},
      {R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [18446744073709551612, 18446744073709551615]}})", 4,
       "span 3 bytes, but float32[1] needs 4"},
      {R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
       R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
       12, "tensors 'a' [0, 8] and 'b' [4, 12] overlap"},
      {R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
       R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})",
       8, "tensors 'a' [0, 8] and 'b' [0, 8] overlap"},
      {R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
       R"( "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
       12, "data bytes [4, 8) before tensor 'b' belong to no tensor"},
      {R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", 12,
       "the data section has 12 bytes, but the tensors cover only 4"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.header);
    write_bytes(file("bad"), raw_file(c.header, c.data_bytes));
    expect_load_error(file("bad"), c.expected);
  }
}

TEST_F(Safetensors, RejectsATruncatedDataSection) {
  Generator gen(2);
  save_safetensors(file("a.safetensors"), {{"x", random_tensor({4, 4}, DType::F32, gen)}});
  std::string bytes = read_bytes(file("a.safetensors"));
  bytes.resize(bytes.size() - 1);
  write_bytes(file("a.safetensors"), bytes);
  expect_load_error(file("a.safetensors"),
                    "data section is truncated or its offsets are out of range: tensor 'x' ends at "
                    "byte 64, but the file holds only 63 bytes of data");
}

// Calls load_safetensors on `bytes`: it must either succeed or throw cxr::Error.
// Anything else (another exception, a crash, an out-of-bounds read under ASan) fails.
void expect_success_or_error(const std::string& path, const std::string& bytes, const std::string& what) {
  write_bytes(path, bytes);
  try {
    const SafetensorsFile f = load_safetensors(path);
    for (const auto& [name, t] : f.tensors) EXPECT_TRUE(t.is_contiguous());
  } catch (const Error&) {
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": threw a non-cxr exception: " << e.what();
  }
}

TEST_F(Safetensors, SurvivesTruncationAndByteFlipsAnywhere) {
  Generator gen(3);
  save_safetensors(file("valid"),
                   {{"a", random_tensor({3, 2}, DType::F32, gen)},
                    {"b", random_tensor({2}, DType::F64, gen)},
                    {"s", random_tensor({}, DType::F32, gen)},
                    {"e", Tensor::zeros({0}, DType::F32)}},
                   {{"k", "v"}});
  const std::string valid = read_bytes(file("valid"));
  const std::string path = file("mutant");

  // The tensors must cover the data exactly, so every truncation is an error.
  for (std::size_t n = 0; n < valid.size(); ++n) {
    write_bytes(path, valid.substr(0, n));
    EXPECT_THROW(load_safetensors(path), Error) << "truncated to " << n << " bytes";
  }
  for (std::size_t pos = 0; pos < valid.size(); ++pos) {
    for (unsigned char mask : {0x01, 0x20, 0x80, 0xff}) {
      std::string bytes = valid;
      bytes[pos] = static_cast<char>(bytes[pos] ^ mask);
      expect_success_or_error(path, bytes, fmt::format("byte {} ^ {:#x}", pos, mask));
    }
  }
  // Several random bytes at once, and inserted/deleted bytes in the header.
  for (int trial = 0; trial < 500; ++trial) {
    std::string bytes = valid;
    const int edits = 1 + static_cast<int>(gen.below(4));
    for (int e = 0; e < edits; ++e) {
      const std::size_t pos = gen.below(bytes.size());
      switch (gen.below(3)) {
        case 0: bytes[pos] = static_cast<char>(gen.below(256)); break;
        case 1: bytes.erase(pos, 1); break;
        default: bytes.insert(pos, 1, static_cast<char>(gen.below(256))); break;
      }
    }
    expect_success_or_error(path, bytes, fmt::format("random trial {}", trial));
  }
}

TEST_F(Safetensors, SaveRejectsBadTensorLists) {
  const std::vector<std::pair<std::vector<std::pair<std::string, Tensor>>, std::string>> cases = {
      {{{"x", Tensor::ones({1})}, {"x", Tensor::ones({2})}}, "tensor name 'x' appears twice"},
      {{{"__metadata__", Tensor::ones({1})}}, "\"__metadata__\" is reserved"},
      {{{"x", Tensor()}}, "tensor 'x' is undefined"},
  };
  for (const auto& [tensors, expected] : cases) {
    SCOPED_TRACE(expected);
    try {
      save_safetensors(file("out"), tensors);
      ADD_FAILURE() << "saved an invalid tensor list";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
    EXPECT_TRUE(listing().empty());
  }
}

TEST_F(Safetensors, FailedRenameLeavesNoTemporary) {
  fs::create_directory(file("target"));  // rename() cannot replace a directory by a file
  fs::create_directory(file("target/inside"));
  EXPECT_THROW(save_safetensors(file("target"), {{"x", Tensor::ones({4})}}), Error);
  EXPECT_EQ(listing(), std::vector<std::string>{"target"});
}

// Runs in a death-test child: caps the file size at 4 KiB so that writing a 4 MB
// tensor fails half way with EFBIG. Exits 0 when the writer reports that failure.
[[noreturn]] void save_under_file_size_limit(const std::string& path) {
  std::signal(SIGXFSZ, SIG_IGN);
  const rlimit limit{4096, 4096};
  ::setrlimit(RLIMIT_FSIZE, &limit);
  try {
    save_safetensors(path, {{"new", Tensor::ones({1 << 20})}});
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    std::exit(std::string(e.what()).find("writing") != std::string::npos ? 0 : 2);
  }
  std::exit(1);
}

TEST_F(Safetensors, WriteFailureMidFileKeepsTheOldFileIntact) {
  const std::string path = file("model.safetensors");
  save_safetensors(path, {{"old", Tensor::full({3}, 7.0)}});
  const std::string old_bytes = read_bytes(path);

  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(save_under_file_size_limit(path), ::testing::ExitedWithCode(0), "File too large");
  EXPECT_EQ(read_bytes(path), old_bytes);
  EXPECT_EQ(listing(), std::vector<std::string>{"model.safetensors"});
}

// ---- module checkpoints --------------------------------------------------------------

// A small tree with the naming of the real net: stem_conv.weight, stem_bn.{weight,
// bias,running_mean,running_var}, optionally classifier.{weight,bias}. Declarations
// only (no forward), as checkpoints need.
class ConvLike : public Module {
 public:
  ConvLike(int in, int out) { declare_parameter("weight", &weight, {out, in, 3, 3}, Init::kaiming_normal(in * 9)); }
  Tensor weight;
};

class NormLike : public Module {
 public:
  explicit NormLike(int channels) {
    declare_parameter("weight", &weight, {channels}, Init::constant(1));
    declare_parameter("bias", &bias, {channels}, Init::constant(0));
    declare_buffer("running_mean", &running_mean, {channels}, 0.0);
    declare_buffer("running_var", &running_var, {channels}, 1.0);
  }
  Tensor weight, bias, running_mean, running_var;
};

class LinearLike : public Module {
 public:
  LinearLike(int in, int out) {
    declare_parameter("weight", &weight, {out, in}, Init::kaiming_normal(in));
    declare_parameter("bias", &bias, {out}, Init::constant(0.5));
  }
  Tensor weight, bias;
};

class TinyNet : public Module {
 public:
  explicit TinyNet(int stem, bool with_classifier = true) {
    add_module("stem_conv", std::make_unique<ConvLike>(1, stem));
    bn = &add_module("stem_bn", std::make_unique<NormLike>(stem));
    if (with_classifier) add_module("classifier", std::make_unique<LinearLike>(stem, 3));
  }
  NormLike* bn;
};

TEST_F(Safetensors, CheckpointRoundTripRestoresParametersAndBuffers) {
  TinyNet a(8);
  ParameterSet pa(a, /*seed=*/1);
  a.bn->running_mean.fill_(0.25);  // buffers must travel too
  a.bn->running_var.fill_(3.0);
  save_checkpoint(file("ckpt.safetensors"), a, {{"epoch", "4"}});

  TinyNet b(8);
  ParameterSet pb(b, /*seed=*/2);
  ASSERT_NE(pb.values().to_vector(), pa.values().to_vector());
  const auto metadata = load_checkpoint(file("ckpt.safetensors"), b);
  EXPECT_EQ(metadata, (std::map<std::string, std::string>{{"epoch", "4"}}));
  // Loaded in place: the flat buffers the optimizer sees hold the new values.
  EXPECT_EQ(pb.values().to_vector(), pa.values().to_vector());
  EXPECT_EQ(pb.buffer_values().to_vector(), pa.buffer_values().to_vector());

  // The file holds exactly the module's names.
  const SafetensorsFile f = load_safetensors(file("ckpt.safetensors"));
  std::vector<std::string> names;
  for (const auto& [name, t] : f.tensors) names.push_back(name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"classifier.bias", "classifier.weight", "stem_bn.bias", "stem_bn.running_mean",
                                      "stem_bn.running_var", "stem_bn.weight", "stem_conv.weight"}));
}

TEST_F(Safetensors, CheckpointConvertsTheFileDTypeToTheModels) {
  TinyNet a(4);
  ParameterSet pa(a, 1, DType::F64);
  save_checkpoint(file("f64.safetensors"), a);
  TinyNet b(4);
  ParameterSet pb(b, 2, DType::F32);
  load_checkpoint(file("f64.safetensors"), b);
  EXPECT_EQ(pb.values().dtype(), DType::F32);
  EXPECT_EQ(pb.values().to_vector(), pa.values().to(DType::F32).to_vector());
}

TEST_F(Safetensors, CheckpointReportsShapeMismatchesAndLeavesTheModelUnchanged) {
  TinyNet a(32);
  ParameterSet pa(a, 1);
  save_checkpoint(file("wide.safetensors"), a);
  TinyNet b(16);
  ParameterSet pb(b, 2);
  const auto before = pb.values().to_vector();
  try {
    load_checkpoint(file("wide.safetensors"), b);
    FAIL() << "loaded a checkpoint of the wrong width";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(file("wide.safetensors")), std::string::npos) << m;
    EXPECT_NE(m.find("stem_conv.weight: file has [32, 1, 3, 3], model expects [16, 1, 3, 3]"), std::string::npos) << m;
    EXPECT_NE(m.find("stem_bn.running_var: file has [32], model expects [16]"), std::string::npos) << m;
    EXPECT_NE(m.find("classifier.weight: file has [3, 32], model expects [3, 16]"), std::string::npos) << m;
  }
  EXPECT_EQ(pb.values().to_vector(), before);
}

TEST_F(Safetensors, CheckpointReportsMissingAndUnexpectedNames) {
  TinyNet with(4, true), without(4, false);
  ParameterSet pw(with, 1), pwo(without, 1);
  save_checkpoint(file("with.safetensors"), with);
  save_checkpoint(file("without.safetensors"), without);
  try {
    load_checkpoint(file("without.safetensors"), with);
    FAIL() << "loaded a checkpoint that lacks the classifier";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing from the file: classifier.weight, classifier.bias"),
              std::string::npos)
        << e.what();
  }
  try {
    load_checkpoint(file("with.safetensors"), without);
    FAIL() << "loaded a checkpoint with extra tensors";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not in the model: classifier.bias, classifier.weight"), std::string::npos)
        << e.what();
  }
}

TEST_F(Safetensors, CheckpointNeedsABoundModule) {
  TinyNet unbound(4);
  EXPECT_THROW(save_checkpoint(file("x.safetensors"), unbound), Error);
}

}  // namespace
