/// The name lists PERSON and LOCATION are recognized by: common first names and surnames in
/// Germany, the UK and the US, and cities and countries in German and English spelling. Words
/// that are also everyday words (Will, Mark, Grace, Bill …) are left out of the first names.
enum Gazetteers {
    static let firstNames = """
        Anna Maria Emma Mia Hannah Sophia Sophie Emilia Lina Marie Lena Mila Clara Ella Leonie Lea Laura Julia Sarah Lisa Katharina Johanna
        Charlotte Greta Frieda Ida Paula Luisa Amelie Nele Jana Nina Sandra Sabine Petra Claudia Andrea Susanne Monika Ursula Renate Birgit
        Karin Gabriele Heike Anja Stefanie Christina Kristina Melanie Nicole Tanja Jessica Jennifer Vanessa Franziska Annika Carolin Ingrid
        Helga Gisela Elisabeth Margarete Ilse Erika Brigitte Martina Silke Ute Kerstin Doris Bärbel Jutta Angelika Dagmar Anke Manuela
        Olivia Amelia Isla Ava Isabella Chloe Emily Ruby Evie Harper Abigail Madison Elizabeth Mary Patricia Linda Barbara Susan Karen Nancy
        Margaret Betty Dorothy Helen Sharon Michelle Kimberly Deborah Rebecca Laura Amanda Stephanie Catherine Samantha Rachel Megan
        Lukas Leon Luca Finn Paul Jonas Ben Elias Noah Felix Maximilian Max Henry Emil Theo Anton Moritz Jakob Julian Niklas Tim Tom Jan
        Alexander Daniel David Florian Tobias Sebastian Philipp Simon Fabian Matthias Markus Michael Thomas Andreas Stefan Christian Martin
        Peter Klaus Jürgen Wolfgang Dieter Uwe Günter Horst Manfred Helmut Gerhard Werner Rainer Bernd Ralf Frank Jörg Holger Torsten Sven
        Dirk Olaf Kai Lars Jens Heinz Karl Friedrich Hans Otto Ernst Walter Kurt Hermann Wilhelm Johannes Benjamin Jonathan Nils Timo Dennis
        Oliver George Harry Jack Jacob Charlie Oscar Thomas James William Joseph Edward Samuel Henry Arthur Liam Ethan Mason Logan Lucas
        John Robert Richard Charles Christopher Matthew Anthony Donald Steven Paul Andrew Joshua Kenneth Kevin Brian Timothy Ronald Jason
        Jeffrey Ryan Gary Nicholas Eric Jonathan Stephen Larry Justin Scott Brandon Gregory Raymond Patrick Dennis Tyler Aaron Nathan
        Ahmet Mehmet Mustafa Ali Fatma Ayşe Emine Elif Zeynep Yusuf Ibrahim Hüseyin Katarzyna Piotr Krzysztof Tomasz Agnieszka Olga
        Ivan Sergej Natalia Elena Giulia Francesco Alessandro Marco Sofia Lucia Pablo Javier Carmen Pierre Jean Camille Louis Léa
        """
    static let surnames = """
        Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch Bauer Richter Klein Wolf Schröder Neumann
        Schwarz Zimmermann Braun Krüger Hofmann Hartmann Lange Schmitt Werner Schmitz Krause Meier Lehmann Schmid Schulze Maier Köhler
        Herrmann König Walter Mayer Huber Kaiser Fuchs Peters Lang Scholz Möller Weiß Jung Hahn Schubert Vogel Friedrich Keller Günther
        Frank Berger Winkler Roth Beck Lorenz Baumann Franke Albrecht Schuster Simon Ludwig Böhm Winter Kraus Martin Schumacher Krämer
        Vogt Stein Jäger Otto Sommer Groß Seidel Heinrich Brandt Haas Schreiber Graf Schulte Dietrich Ziegler Kuhn Kühn Pohl Engel Horn
        Busch Bergmann Thomas Voigt Sauer Arnold Wolff Pfeiffer Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez
        Hernandez Lopez Gonzalez Wilson Anderson Taylor Moore Jackson Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson
        Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts
        Evans Turner Phillips Parker Edwards Collins Stewart Morris Murphy Cook Rogers Morgan Cooper Peterson Reed Bailey Bell Kelly Howard
        Ward Cox Richardson Wood Watson Brooks Bennett Gray James Hughes Price Sanders Myers Long Ross Foster Patel Khan Yılmaz Kaya Demir
        Şahin Çelik Öztürk Kowalski Nowak Wiśniewski Novak Rossi Russo Ferrari Esposito Bianchi Romano Dubois Durand Moreau Laurent
        """
    static let places = """
        Berlin Hamburg München Munich Köln Cologne Frankfurt Stuttgart Düsseldorf Dortmund Leipzig Bremen Dresden Hannover Hanover
        Nürnberg Nuremberg Duisburg Bochum Wuppertal Bielefeld Bonn Münster Karlsruhe Mannheim Augsburg Wiesbaden Gelsenkirchen Aachen
        Braunschweig Kiel Chemnitz Magdeburg Freiburg Krefeld Lübeck Oberhausen Erfurt Mainz Rostock Kassel Hagen Potsdam Saarbrücken
        Ludwigshafen Oldenburg Osnabrück Leverkusen Heidelberg Darmstadt Solingen Regensburg Paderborn Ingolstadt Würzburg Ulm
        Wolfsburg Göttingen Heilbronn Pforzheim Bremerhaven Koblenz Trier Jena Konstanz Passau Bamberg Bayreuth Rosenheim Wien Vienna Graz
        Linz Salzburg Innsbruck Zürich Zurich Genf Geneva Basel Bern Lausanne Luzern London Manchester Birmingham Liverpool Leeds Glasgow
        Edinburgh Bristol Sheffield Cardiff Belfast Oxford Cambridge Brighton Dublin Paris Lyon Marseille Brüssel Brussels Amsterdam
        Rotterdam Madrid Barcelona Rom Rome Mailand Milan Lissabon Lisbon Prag Prague Warschau Warsaw Kopenhagen Copenhagen Stockholm Oslo
        Helsinki Athen Athens Istanbul Budapest Chicago Boston Seattle Houston Dallas Denver Miami Atlanta Philadelphia Phoenix Detroit
        Toronto Vancouver Montreal Sydney Melbourne Tokyo Tokio Peking Beijing Shanghai Mumbai Delhi Dubai Moskau Moscow
        Deutschland Germany Österreich Austria Schweiz Switzerland Frankreich France Italien Italy Spanien Spain England Schottland
        Scotland Irland Ireland Niederlande Netherlands Belgien Belgium Polen Poland Tschechien Dänemark Denmark Schweden Sweden
        Norwegen Norway Finnland Finland Griechenland Greece Türkei Portugal Kanada Canada Australien Australia Japan China Indien India
        """
    /// Places of more than one word.
    static let multiWordPlaces = [
        "New York", "Los Angeles", "San Francisco", "San Diego", "Las Vegas", "New Orleans", "Frankfurt am Main", "Frankfurt an der Oder",
        "Bad Homburg", "Freiburg im Breisgau", "Halle an der Saale", "Mülheim an der Ruhr", "Rio de Janeiro", "Hong Kong", "Buenos Aires",
        "United States", "United Kingdom", "Vereinigte Staaten", "Großbritannien", "South Africa", "New Zealand", "Washington D.C.",
    ]
    /// Words before a surname that make it a person's name.
    static let titles = ["herr", "herrn", "frau", "mr", "mrs", "ms", "miss", "dr", "prof", "sir", "madam", "mx"]
}
