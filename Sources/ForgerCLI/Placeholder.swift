public struct Forger { public static func main() {} }
