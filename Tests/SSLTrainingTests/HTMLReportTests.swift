import Foundation
import SSLTraining
import XCTest

/// The report's charts: one per quantity, train and validation together, round-number ticks.
final class HTMLReportTests: XCTestCase {
    func testTrainAndValidationOfOneQuantityShareAChartWithALegend() {
        let records = [
            MetricRecord(step: 50, epoch: 0, values: ["train/loss_step": 2.0, "lr-optimizer/default": 0.1]),
            MetricRecord(step: 100, epoch: 0, values: ["train/loss_step": 1.5]),
            MetricRecord(step: 100, epoch: 0, values: ["train/loss_epoch": 1.7, "val/loss": 1.6, "val/knn_acc": 0.5]),
        ]
        let page = HTMLReport(title: "run", records: records).render()
        let figures = page.components(separatedBy: "<figure>").dropFirst()
        XCTAssertEqual(figures.count, 3, "loss, knn_acc and the learning rate")
        let loss = figures.first { $0.contains("<figcaption>loss</figcaption>") } ?? ""
        XCTAssertEqual(loss.components(separatedBy: "<polyline").count - 1, 3)
        for legend in ["train (step)", "train (epoch)", ">val<"] { XCTAssertTrue(loss.contains(legend), "legend \(legend)") }
        XCTAssertTrue(page.contains(">step</text>"))
    }

    func testAxesCarryRoundNumberTicks() {
        let chart = HTMLReport.lineChart(series: [(name: "a", points: [(0, 0.13), (1000, 0.87)])])
        for tick in [">0<", ">200<", ">400<", ">1000<", ">0.2<", ">0.8<"] {
            XCTAssertTrue(chart.contains(tick), "tick \(tick)")
        }
    }
}
