fn main() {
    let s = std::env::args().nth(1).unwrap();
    let mut p = brush_parser::Parser::new(std::io::BufReader::new(s.as_bytes()), &Default::default());
    let prog = p.parse_program();
    println!("{prog:#?}");
    for w in std::env::args().skip(2) {
        println!("{:#?}", brush_parser::word::parse(&w, &Default::default()));
    }
}
