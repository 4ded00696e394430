// Test-only safetensors reader: F32 / F64 / I64 / I32 tensors, converted to double, float or int32 on request.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_json.h"

namespace ft5::test {

struct StTensor {
    std::string dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;

    int64_t numel() const {
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        return n;
    }
    template <typename T>
    std::vector<T> as() const {
        std::vector<T> out(static_cast<size_t>(numel()));
        for (size_t i = 0; i < out.size(); ++i) {
            if (dtype == "F32") {
                float v;
                std::memcpy(&v, bytes.data() + i * 4, 4);
                out[i] = T(v);
            } else if (dtype == "F64") {
                double v;
                std::memcpy(&v, bytes.data() + i * 8, 8);
                out[i] = T(v);
            } else if (dtype == "I64") {
                int64_t v;
                std::memcpy(&v, bytes.data() + i * 8, 8);
                out[i] = T(v);
            } else if (dtype == "I32") {
                int32_t v;
                std::memcpy(&v, bytes.data() + i * 4, 4);
                out[i] = T(v);
            } else {
                throw std::runtime_error("unsupported dtype " + dtype);
            }
        }
        return out;
    }
    std::vector<float> f32() const { return as<float>(); }
    std::vector<double> f64() const { return as<double>(); }
    std::vector<int32_t> i32() const { return as<int32_t>(); }
};

class SafetensorsFile {
public:
    explicit SafetensorsFile(const std::string& path) {
        std::ifstream f(path, std::ios::binary);
        if (!f) throw std::runtime_error("cannot open " + path);
        uint64_t n = 0;
        f.read(reinterpret_cast<char*>(&n), 8);
        std::string header(n, '\0');
        f.read(header.data(), std::streamsize(n));
        std::stringstream rest;
        rest << f.rdbuf();
        const std::string data = rest.str();
        const JsonValue h = parse_json(header);
        for (const auto& [name, e] : h.object) {
            if (name == "__metadata__") continue;
            StTensor t;
            t.dtype = e.at("dtype").string;
            for (const auto& d : e.at("shape").array) t.shape.push_back(int64_t(d.number));
            const auto a = size_t(e.at("data_offsets").array[0].number);
            const auto b = size_t(e.at("data_offsets").array[1].number);
            t.bytes.assign(data.begin() + std::ptrdiff_t(a), data.begin() + std::ptrdiff_t(b));
            tensors_.emplace(name, std::move(t));
        }
    }
    bool has(const std::string& name) const { return tensors_.count(name) != 0; }
    const StTensor& at(const std::string& name) const {
        auto it = tensors_.find(name);
        if (it == tensors_.end()) throw std::runtime_error("tensor missing: " + name);
        return it->second;
    }
    const std::map<std::string, StTensor>& all() const { return tensors_; }

private:
    std::map<std::string, StTensor> tensors_;
};

inline std::string read_text(const std::string& path) {
    std::ifstream f(path);
    if (!f) throw std::runtime_error("cannot open " + path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

}  // namespace ft5::test
