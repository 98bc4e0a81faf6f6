"""The demo catalogue that `manage.py seed_demo` writes: data, not code paths."""

AMENITIES = [
    ("Free Wi-Fi", "wifi"),
    ("Breakfast", "breakfast"),
    ("Air conditioning", "air-conditioning"),
    ("Parking", "parking"),
    ("Swimming pool", "pool"),
    ("Gym", "gym"),
    ("Spa", "spa"),
    ("Restaurant", "restaurant"),
    ("Bar", "bar"),
    ("Pets allowed", "pets"),
    ("Sea view", "sea-view"),
    ("Balcony", "balcony"),
    ("Bathtub", "bathtub"),
    ("Kitchenette", "kitchenette"),
]

# Room type tuple: name, beds, max adults, max children, max occupancy, size m²,
# base price, number of rooms, amenity slugs.
HOTELS = [
    {
        "name": "Alfama Riverside Hotel",
        "slug": "alfama-riverside",
        "city": "Lisbon",
        "country": "PT",
        "address": "Rua de São João da Praça 12, 1100-521 Lisbon",
        "stars": 4,
        "timezone": "Europe/Lisbon",
        "currency": "EUR",
        "description": "A restored 19th-century building above the Tagus, a short walk from "
        "the cathedral and the tram 28 line.",
        "amenities": ["wifi", "breakfast", "air-conditioning", "bar", "restaurant"],
        "free_cancellation_days": 2,
        "cancellation_fee": "first_night",
        "room_types": [
            ("Standard Double", "1 double bed", 2, 0, 2, 18, "95.00", 10, ["wifi"]),
            ("Superior Twin", "2 single beds", 2, 1, 3, 22, "115.00", 8, ["wifi"]),
            ("River View Double", "1 king bed", 2, 1, 3, 24, "145.00", 6, ["sea-view", "balcony"]),
            ("Family Room", "1 king bed, 2 singles", 2, 2, 4, 32, "180.00", 4, ["bathtub"]),
            (
                "Junior Suite",
                "1 king bed and sofa",
                2,
                2,
                4,
                40,
                "240.00",
                2,
                ["bathtub", "balcony"],
            ),
        ],
    },
    {
        "name": "Chiado Boutique Rooms",
        "slug": "chiado-boutique",
        "city": "Lisbon",
        "country": "PT",
        "address": "Rua Garrett 40, 1200-204 Lisbon",
        "stars": 3,
        "timezone": "Europe/Lisbon",
        "currency": "EUR",
        "description": "Twenty small, bright rooms in the heart of Chiado, with cafés and "
        "bookshops at the door.",
        "amenities": ["wifi", "air-conditioning", "pets"],
        "free_cancellation_days": 1,
        "cancellation_fee": "percent",
        "cancellation_fee_percent": "50.00",
        "room_types": [
            ("Single", "1 single bed", 1, 0, 1, 11, "65.00", 6, ["wifi"]),
            ("Double", "1 double bed", 2, 0, 2, 15, "85.00", 8, ["wifi"]),
            ("Twin", "2 single beds", 2, 0, 2, 16, "89.00", 4, ["wifi"]),
            ("Studio", "1 double bed and kitchenette", 2, 1, 3, 24, "120.00", 2, ["kitchenette"]),
        ],
    },
    {
        "name": "Ribeira Grand Hotel",
        "slug": "ribeira-grand",
        "city": "Porto",
        "country": "PT",
        "address": "Cais da Ribeira 30, 4050-509 Porto",
        "stars": 5,
        "timezone": "Europe/Lisbon",
        "currency": "EUR",
        "description": "A grand hotel on the Douro waterfront, with a spa, a rooftop pool and "
        "port-wine cellars across the bridge.",
        "amenities": ["wifi", "breakfast", "pool", "spa", "gym", "restaurant", "bar", "parking"],
        "free_cancellation_days": 7,
        "cancellation_fee": "percent",
        "cancellation_fee_percent": "100.00",
        "deposit_percent": "20.00",
        "room_types": [
            ("Deluxe King", "1 king bed", 2, 1, 3, 30, "210.00", 12, ["wifi", "bathtub"]),
            ("Deluxe Twin", "2 queen beds", 3, 1, 4, 32, "225.00", 8, ["wifi"]),
            ("Douro View Room", "1 king bed", 2, 1, 3, 34, "260.00", 8, ["sea-view", "balcony"]),
            ("Executive Suite", "1 king bed, living room", 2, 2, 4, 55, "390.00", 4, ["bathtub"]),
            ("Family Suite", "1 king bed, 2 singles", 2, 3, 5, 60, "420.00", 3, ["kitchenette"]),
            ("Presidential Suite", "1 king bed, 2 rooms", 4, 2, 6, 110, "950.00", 1, ["spa"]),
        ],
    },
    {
        "name": "Southbank Lodge",
        "slug": "southbank-lodge",
        "city": "London",
        "country": "GB",
        "address": "12 Stamford Street, London SE1 9NT",
        "stars": 3,
        "timezone": "Europe/London",
        "currency": "GBP",
        "description": "Simple, quiet rooms five minutes from Waterloo and the South Bank.",
        "amenities": ["wifi", "breakfast", "gym"],
        "free_cancellation_days": 3,
        "cancellation_fee": "first_night",
        "room_types": [
            ("Compact Double", "1 small double bed", 2, 0, 2, 12, "119.00", 14, ["wifi"]),
            ("Standard Double", "1 double bed", 2, 0, 2, 16, "139.00", 12, ["wifi"]),
            ("Twin", "2 single beds", 2, 0, 2, 17, "139.00", 8, ["wifi"]),
            ("Triple", "1 double and 1 single bed", 3, 1, 3, 21, "169.00", 4, ["wifi"]),
        ],
    },
]

STAFF_USERNAME = "staff"
STAFF_PASSWORD = "staff-demo-2026"  # noqa: S105 (demo data, printed by seed_demo)
GUEST_USERNAME = "guest"
GUEST_PASSWORD = "guest-demo-2026"  # noqa: S105
GUEST_EMAIL = "guest@example.com"
