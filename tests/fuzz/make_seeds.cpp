// Writes the seed corpora of the fuzz targets: tests/fuzz/corpus/<target>/<seed>,
// tiny synthetic files (no dataset image). Run by hand after changing a seed:
//   build-fuzz/tests/fuzz/fuzz_make_seeds tests/fuzz/corpus
#include "png_bombs.h"

#include "data/manifest.h"
#include "engine/io/safetensors.h"

#include <fmt/format.h>
#include <stb/stb_image_write.h>

#include <filesystem>
#include <fstream>
#include <vector>

namespace fs = std::filesystem;

namespace {

fs::path root;

void write(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(root / target);
  std::ofstream(root / target / name, std::ios::binary) << bytes;
}

void append(void* out, void* data, int n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(data), static_cast<std::size_t>(n));
}

// A grey gradient with a darker band: a few distinct grey levels, cheap to encode.
std::vector<std::uint8_t> pixels(int w, int h, int channels) {
  std::vector<std::uint8_t> px(static_cast<std::size_t>(w) * h * channels);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c)
        px[(static_cast<std::size_t>(y) * w + x) * channels + c] =
            static_cast<std::uint8_t>(std::abs(x - w / 2) < w / 6 ? 40 : 120 + 2 * y + 20 * c);
  return px;
}

std::string png(int w, int h, int channels) {
  std::string out;
  const auto px = pixels(w, h, channels);
  stbi_write_png_to_func(append, &out, w, h, channels, px.data(), w * channels);
  return out;
}

std::string jpeg(int w, int h, int channels) {
  std::string out;
  const auto px = pixels(w, h, channels);
  stbi_write_jpg_to_func(append, &out, w, h, channels, px.data(), 80);
  return out;
}

std::string bmp(int w, int h) {
  std::string out;
  const auto px = pixels(w, h, 1);
  stbi_write_bmp_to_func(append, &out, w, h, 1, px.data());
  return out;
}

// `jpeg` with an APP1 Exif segment (big-endian TIFF, one IFD entry: Orientation)
// right after the start-of-image marker.
std::string with_exif(const std::string& jpeg, int orientation) {
  const std::string app1 = std::string("\xFF\xE1\x00\x22", 4) + std::string("Exif\0\0", 6) +
                           std::string("MM\x00\x2A\x00\x00\x00\x08", 8) + std::string("\x00\x01", 2) +
                           std::string("\x01\x12\x00\x03\x00\x00\x00\x01", 8) +
                           std::string{0, static_cast<char>(orientation), 0, 0} + std::string(4, '\0');
  return jpeg.substr(0, 2) + app1 + jpeg.substr(2);
}

std::string multipart_body(const std::string& boundary, const std::string& image) {
  return "--" + boundary +
         "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.png\"\r\nContent-Type: image/png\r\n\r\n" +
         image + "\r\n--" + boundary + "\r\nContent-Disposition: form-data; name=\"label\"\r\n\r\ncovid\r\n--" +
         boundary + "--\r\n";
}

std::string request(const std::string& head, const std::string& body = "") {
  return head + "\r\nHost: localhost\r\n" + (body.empty() ? "" : fmt::format("Content-Length: {}\r\n", body.size())) +
         "\r\n" + body;
}

void image_seeds() {
  write("image", "grey-40x40.png", png(40, 40, 1));
  write("image", "rgba-36x33.png", png(36, 33, 4));
  write("image", "grey16-34x34.png", cxr::test::zero_png(34, 34, 16, 0));
  write("image", "grey-48x40.jpg", jpeg(48, 40, 1));
  write("image", "rgb-40x36.jpg", jpeg(40, 36, 3));
  write("image", "exif6-48x40.jpg", with_exif(jpeg(48, 40, 1), 6));
  write("image", "too-small-8x8.png", png(8, 8, 1));
  const std::string whole = png(40, 40, 1);
  write("image", "truncated.png", whole.substr(0, whole.size() / 2));
  write("image", "refused.bmp", bmp(40, 40));
}

void multipart_seeds() {
  const std::string type = "multipart/form-data; boundary=XyZ\n";
  write("multipart", "image-and-label", type + multipart_body("XyZ", png(40, 40, 1)));
  write(
      "multipart", "quoted-boundary",
      "multipart/form-data; boundary=\"a b\"\n--a b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--a b--");
  write("multipart", "no-closing", type + "--XyZ\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nabc");
}

void train_json_seeds() {
  write("train_json", "full",
        R"({"epochs": 2, "learning_rate": 0.001, "unfreeze": "head", "batch": 8, "activate": true})");
  write("train_json", "required", R"({"epochs":1,"learning_rate":1e-4,"unfreeze":"last_3_blocks"})");
  write("train_json", "wrong-types", R"({"epochs":"2","learning_rate":null,"unfreeze":["all"],"extra":{}})");
  write("train_json", "huge-number", R"({"epochs":18446744073709551616,"learning_rate":1e308,"unfreeze":"all"})");
}

void safetensors_seeds() {
  const fs::path file = root / "safetensors" / "two-tensors.safetensors";
  fs::create_directories(file.parent_path());
  cxr::Tensor a = cxr::Tensor::empty({2, 3}, cxr::DType::F32);
  for (int i = 0; i < 6; ++i) a.data<float>()[i] = 0.5f * i;
  cxr::Tensor b = cxr::Tensor::empty({4}, cxr::DType::F64);
  for (int i = 0; i < 4; ++i) b.data<double>()[i] = -1.0 * i;
  cxr::save_safetensors(file.string(), {{"a", a}, {"b.weight", b}}, {{"preset", "fuzz"}, {"classes", "[\"x\"]"}});
  write("safetensors", "empty-header", std::string("\x02\0\0\0\0\0\0\0{}", 10));
}

void csv_seeds() {
  write("csv", "metadata.csv",
        "patientid,offset,sex,age,finding,view,modality,folder,filename,clinical_notes\r\n"
        "2,0,M,65,COVID-19,PA,X-ray,images,a.jpeg,\"line one\r\nline \"\"two\"\", with comma\"\r\n"
        "3,,F,,Pneumonia/Viral/SARS,AP Supine,X-ray,images,b.png,\r\n"
        "4,1,,40,todo,L,CT,images,c.jpg\r\n");
  write("csv", "bom-unterminated.csv", "\xEF\xBB\xBFpath,class\nx/NORMAL/IM-0001-0001.jpeg,NORMAL\n\"open,PNEUMONIA\n");
  std::vector<cxr::data::ManifestRow> rows(2);
  rows[0] = {0,
             cxr::data::Source::ieee8023,
             "images/a.jpeg",
             "ieee8023:2",
             0,
             cxr::data::Split::train,
             "PA",
             std::string(64, 'a'),
             65.0,
             cxr::data::AgeGroup::adult};
  rows[1] = {1,
             cxr::data::Source::kermany,
             "train/NORMAL/IM-0001-0001.jpeg",
             "kermany:IM-0001",
             1,
             cxr::data::Split::val,
             "PA",
             std::string(64, 'b'),
             std::nullopt,
             cxr::data::AgeGroup::child};
  fs::create_directories(root / "csv");
  cxr::data::write_manifest(root / "csv" / "manifest.csv", rows, 3);
}

void http_seeds() {
  const std::string image = png(40, 40, 1);
  write("http", "health", request("GET /api/v1/health HTTP/1.1"));
  write("http", "static-pipelined",
        request("GET / HTTP/1.1") + request("HEAD /app.js HTTP/1.1") + request("GET /docs/openapi.yaml HTTP/1.1"));
  write("http", "traversal", request("GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1"));
  write("http", "model", request("GET /api/v1/model HTTP/1.1"));
  write("http", "predict-png",
        request("POST /api/v1/predict?explain=gradcam&class=1&overlay=true HTTP/1.1\r\n"
                "Content-Type: image/png",
                image));
  write("http", "predict-multipart",
        request("POST /api/v1/predict?explain=none HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=XyZ",
                multipart_body("XyZ", image)));
  write("http", "predict-chunked",
        fmt::format("POST /api/v1/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/png\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n0\r\n\r\n",
                    image.size(), image));
  write("http", "samples-token",
        request("GET /api/v1/samples?page=1&per_page=5&label=covid HTTP/1.1\r\nAuthorization: Bearer @token@"));
  write("http", "sample-upload",
        request("POST /api/v1/samples?label=covid&patient_id=p1 HTTP/1.1\r\nAuthorization: Bearer @token@\r\n"
                "Content-Type: image/png",
                image) +
            request("DELETE /api/v1/samples/1 HTTP/1.1\r\nAuthorization: Bearer @token@"));
  write("http", "train",
        request("POST /api/v1/train HTTP/1.1\r\nAuthorization: Bearer @token@\r\n"
                "Content-Type: application/json",
                R"({"epochs":1,"learning_rate":0.001,"unfreeze":"head"})"));
  write("http", "jobs-models",
        request("GET /api/v1/jobs?limit=5 HTTP/1.1\r\nAuthorization: Bearer @token@") +
            request("GET /api/v1/models HTTP/1.1\r\nAuthorization: Bearer @token@") +
            request("POST /api/v1/models/v1/activate HTTP/1.1\r\nAuthorization: bearer @token@"));
  write("http", "bad-method-host",
        request("PUT /api/v1/health HTTP/1.1") + "GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: fuzz_make_seeds <corpus folder>\n");
    return 2;
  }
  root = argv[1];
  image_seeds();
  multipart_seeds();
  train_json_seeds();
  safetensors_seeds();
  csv_seeds();
  http_seeds();
  return 0;
}
