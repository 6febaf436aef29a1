import Foundation

/// How a dataset path is read.
public enum DatasetFormat: String, CaseIterable, Sendable {
    /// A folder is a folder of PNGs, a `.npy` file a float array, anything else IDX.
    case auto, idx, npy, folder
}

extension DatasetLoader {
    /// The images at `path` in `format`, with IDX `labels` (one class per image) for IDX or
    /// .npy images, resized to `size` x `size` and converted to `channels` when given. A
    /// folder's classes are its first-level subfolders, so it takes no label file.
    public static func load(_ path: String, format: DatasetFormat = .auto, labels: String? = nil,
                            size: Int? = nil, channels: Int? = nil) throws -> ImageDataset {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw DatasetError.cannotRead(path: path, reason: "no such file or folder; give an IDX file, a .npy file or a folder of PNGs")
        }
        var format = format
        if format == .auto { format = isDirectory.boolValue ? .folder : (url.pathExtension.lowercased() == "npy" ? .npy : .idx) }
        let labelURL = labels.map { URL(fileURLWithPath: $0) }
        var set: ImageDataset
        switch format {
        case .folder:
            if let labels {
                throw DatasetError.labelMismatch(path: labels, reason: "a folder's classes are its first-level subfolder names (\(path)/CLASS/*.png); drop the label file")
            }
            set = try folder(url, size: size, channels: channels)
        case .npy:
            set = try npy(url)
            if let labelURL { set.labels = try idxLabels(labelURL, imageCount: set.count, images: path) }
        case .idx, .auto:
            set = try idx(images: url, labels: labelURL)
        }
        return set.adapted(size: size, channels: channels)
    }
}
