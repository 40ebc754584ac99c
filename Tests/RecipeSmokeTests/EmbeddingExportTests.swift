import Foundation
import SSLMethods
import SSLNN
import SSLRecipes
import SSLTensor
import XCTest

/// The files `ssl-embed` writes, from known embeddings: two tight clusters and a stray.
final class EmbeddingExportTests: XCTestCase {
    private var directory = ""
    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ssl-embed-\(UUID().uuidString)").path
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    private func facts() -> EmbeddingExport.Facts {
        let rows: [[Float]] = [[1, 0, 0, 0], [0.999, 0.02, 0, 0], [0.98, 0.1, 0.1, 0], [0, 1, 0, 0], [0.01, 0.998, 0, 0.03], [0, 0, -1, 1]]
        let paths = ["a/cat 1.png", "a/cat,2.png", "a/cat3.png", "b/dog1.jpg", "b/\"dog\"2.jpg", "b/stray.jpg"]
        return EmbeddingExport.Facts(features: Tensor(rows.flatMap { $0 }).reshape([6, 4]), paths: paths, labels: [0, 0, 0, 1, 1, 1],
                                     classNames: ["cat", "dog"], neighbours: 2, duplicateThreshold: 0.99, outlierCount: 2,
                                     centred: false)
    }

    func testTheFilesHoldTheEmbeddingsPathsNeighboursDuplicatesAndOutliers() throws {
        let facts = facts()
        try EmbeddingExport.write(facts, to: directory)
        let (state, metadata) = try SafeTensors.readWithMetadata(from: directory + "/embeddings.safetensors")
        XCTAssertEqual(state["embeddings"]?.shape, [6, 4])
        XCTAssertEqual(state["embeddings"]?.scalars, facts.features.scalars)
        let paths = try JSONDecoder().decode([String].self, from: Data((metadata["paths"] ?? "").utf8))
        XCTAssertEqual(paths, facts.paths)
        XCTAssertEqual(metadata["class_names"], #"["cat","dog"]"#)

        let neighbours = try String(contentsOfFile: directory + "/neighbours.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(neighbours.count, 1 + 6 * 2)
        XCTAssertTrue(neighbours[1].hasPrefix("a/cat 1.png,1,\"a/cat,2.png\",0.99"), String(neighbours[1]))
        let duplicates = try String(contentsOfFile: directory + "/duplicates.csv", encoding: .utf8)
        // cat3 passes 0.99 with cat,2 only (0.9917; 0.9899 with cat 1): the group is joined through it.
        XCTAssertEqual(duplicates, "group,size,path\n1,3,a/cat 1.png\n1,3,\"a/cat,2.png\"\n1,3,a/cat3.png\n2,2,b/dog1.jpg\n2,2,\"b/\"\"dog\"\"2.jpg\"\n")
        let outliers = try String(contentsOfFile: directory + "/outliers.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertTrue(outliers[1].hasPrefix("1,b/stray.jpg,"), String(outliers[1]))
        let table = try String(contentsOfFile: directory + "/embeddings.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(table[0], "path,label,class,map_x,map_y")
        XCTAssertTrue(table[4].hasPrefix("b/dog1.jpg,1,dog,"), String(table[4]))
    }

    func testTheSearchComparesCentredEmbeddingsByDefault() {
        // Two directions sharing a large common component: raw cosines all near 1, centred they split.
        let rows: [[Float]] = [[10, 1, 0], [10, 1.1, 0], [10, 0, 1], [10, 0, 1.1]]
        let features = Tensor(rows.flatMap { $0 }).reshape([4, 3])
        let paths = ["a", "b", "c", "d"]
        let raw = EmbeddingExport.Facts(features: features, paths: paths, labels: nil, classNames: [], neighbours: 1,
                                        duplicateThreshold: 0.95, outlierCount: 0, centred: false)
        XCTAssertEqual(raw.duplicateGroups, [[0, 1, 2, 3]], "raw cosines chain everything")
        let centred = EmbeddingExport.Facts(features: features, paths: paths, labels: nil, classNames: [], neighbours: 1,
                                            duplicateThreshold: 0.95, outlierCount: 0)
        XCTAssertTrue(centred.centred)
        XCTAssertEqual(centred.duplicateGroups, [[0, 1], [2, 3]])
    }

    func testTheGalleryIsOnePageWithEverySection() throws {
        let facts = facts()
        let page = EmbeddingGallery(facts: facts, title: "test <run>") { index in index == 5 ? nil : "data:image/png;base64,AAAA\(index)" }
            .render()
        for fragment in ["<h2>Map of all images</h2>", "<h2>Nearest neighbours</h2>", "<h2>Near-duplicates</h2>", "<h2>Outliers</h2>",
                         "test &lt;run&gt;", "data:image/png;base64,AAAA3", "class=\"none\"", ">dog<", "Group 2: 2 images"] {
            XCTAssertTrue(page.contains(fragment), "missing \(fragment)")
        }
        XCTAssertFalse(page.contains("<script"), "no scripts")
    }

    func testPythonReadsTheEmbeddingsAndPathsWhenSafetensorsIsInstalled() throws {
        let candidates = [ProcessInfo.processInfo.environment["SSL_PYTHON"], "python3"].compactMap { $0 }
        guard let python = candidates.first(where: { Self.run($0, ["-c", "import safetensors.numpy"]).status == 0 }) else {
            throw XCTSkip("python3 with the safetensors package is not installed (pip install safetensors numpy)")
        }
        let facts = facts()
        try EmbeddingExport.write(facts, to: directory)
        let script = """
            import json
            from safetensors import safe_open
            with safe_open(\(String(reflecting: directory + "/embeddings.safetensors")), "numpy") as f:
                paths = json.loads(f.metadata()["paths"])
                rows = f.get_tensor("embeddings")
            print(len(paths), rows.shape, paths[4], round(float(rows[4, 1]), 3))
            """
        let (status, output) = Self.run(python, ["-c", script])
        XCTAssertEqual(status, 0, output)
        XCTAssertEqual(output.trimmingCharacters(in: .whitespacesAndNewlines), #"6 (6, 4) b/"dog"2.jpg 0.998"#)
    }

    static func run(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return (-1, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
